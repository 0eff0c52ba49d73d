// Multi-query attention (MQA): all query heads share one key/value head.
// The source article's layer: hidden 48, 6 heads of 8, biases (golden case seed003-mqa-keypad).
// Run it: ./attn run examples/mqa.attn.kts

val mha = model("MHA-48") { hidden(48); layers(1); contextLength(1); mha { heads(6); bias() } }
val mqa = model("MQA-48") { hidden(48); layers(1); contextLength(1); mqa { heads(6); bias() } }

// Worked by hand: wq and wo 48x48 (2·2304), wk and wv 8x48 (2·384), biases 48 + 8 + 8 + 48 = 112 → 5,488;
// MHA: 4·2304 + 4·48 = 9,408.
expect("MQA has 5,488 parameters at hidden 48, 6 heads") { mqa.paramsPerLayer shouldBe 5_488L }
expect("MHA has 9,408") { mha.paramsPerLayer shouldBe 9_408L }
expect("MQA caches 1/h of MHA") { mqa.kvBytesPerToken * 6 shouldBe mha.kvBytesPerToken }
expect("MQA's cost-model label") { mqa.label shouldBe "MQA" }

expectMatchesReference(attention { heads(query = 6, kv = 1); headDim(8) }, backend = "cpu", batch = 3, qLen = 5, kvLen = 17)
expectMatchesReference(attention { heads(query = 16, kv = 1); headDim(72); causal() }, backend = "cpu", qLen = 1, kvLen = 65)
expectMatchesReference(mqa.layer, backend = "cpu")

expectGolden("../golden/cases/seed003-mqa-keypad", backend = "reference")
expectGolden("../golden/cases/seed003-mqa-keypad", backend = "cpu")
