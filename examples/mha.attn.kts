// Multi-head attention (MHA): every query head has its own key/value head.
// The source article's layer: hidden 64, 8 heads of 8, projections with biases (golden case seed003-mha-keypad).
// Run it: ./attn run examples/mha.attn.kts

val mha = model("MHA-64") { hidden(64); layers(4); contextLength(1024); mha { heads(8); bias() } }
val layer = mha.layer

// Worked by hand: wq, wk, wv, wo are 64x64 (4·4096 = 16,384) plus four 64-wide biases (256).
expect("MHA has 4·d² + 4·d = 16,640 parameters at hidden 64") { mha.paramsPerLayer shouldBe 16_640L }
// K and V, 8 heads of 8, 2 bytes each: 2·8·8·2 = 256 B per token per layer; 4 layers · 1024 tokens → 1 MiB.
expect("MHA caches 2·h·d_h elements per token") { mha.kvBytesPerTokenPerLayer shouldBe 256L }
expect("a 1024-token sequence through 4 layers caches 1 MiB") { mha.kvCacheBytes() shouldBe (1L shl 20) }

// The float32 CPU backend against the float64 reference, on seeded random inputs.
expectMatchesReference(attention { heads(8); headDim(8) }, backend = "cpu", batch = 2, qLen = 11, kvLen = 11)
expectMatchesReference(attention { heads(8); headDim(64); causal() }, backend = "cpu", qLen = 33, kvLen = 33)
expectMatchesReference(layer, backend = "cpu")

// Golden cases produced by the source articles' PyTorch classes (float64).
expectGolden("../golden/cases/seed003-mha-keypad", backend = "reference")
expectGolden("../golden/cases/seed003-mha-keypad", backend = "cpu")
