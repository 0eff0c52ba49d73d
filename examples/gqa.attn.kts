// Grouped-query attention (GQA): query heads in groups share a key/value head
// (query head h reads KV head h / (q_heads / kv_heads), FORMAT.md).
// Run it: ./attn run examples/gqa.attn.kts     Compare: ./attn compare --config examples/gqa.attn.kts

val mha = model("MHA-32") { hidden(4096); layers(32); contextLength(32768); mha { heads(32); headDim(128); causal() } }
val gqa8 = model("GQA-8") { hidden(4096); layers(32); contextLength(32768); gqa { heads(query = 32, kv = 8); headDim(128); causal() } }

expect("GQA-8 cache is 1/4 of MHA") { gqa8.kvBytesPerToken * 4 shouldBe mha.kvBytesPerToken }
// Worked by hand: 2 (K, V) · 8 heads · 128 · 2 B · 32 layers · 32768 tokens = 4 GiB; MHA 16 GiB.
expect("GQA-8 caches 4 GiB for a 32K context, MHA 16 GiB") {
    (gqa8.kvCacheBytes() shouldBe (4L shl 30)) && (mha.kvCacheBytes() shouldBe (16L shl 30))
}
// 2·d·(h·d_h) + 2·d·(g·d_h) over 4·d·(h·d_h), with h·d_h = d: 1/2 + g/(2h) = 1/2 + 8/64.
expect("GQA-8 has 0.625 of MHA's parameters") { gqa8.paramsVsMha.isAbout(0.625, within = 1e-12) }

// Kernels: groups of 3 (12/4, golden seed003-gqa-kernel-mask's shape), LLaMA-like 32/8, a Mistral-like window.
expectMatchesReference(attention { heads(query = 12, kv = 4); headDim(8) }, backend = "cpu", batch = 2, qLen = 7, kvLen = 9)
expectMatchesReference(attention { heads(query = 32, kv = 8); headDim(128); causal() }, backend = "cpu", qLen = 17, kvLen = 40)
expectMatchesReference(attention { heads(query = 8, kv = 2); headDim(16); causal(); window(left = 4) }, backend = "cpu", qLen = 13, kvLen = 13)
expectMatchesReference(gqa { hidden(64); heads(query = 8, kv = 4); bias() }, backend = "cpu")

expectGolden("../golden/cases/seed003-gqa-kernel-mask", backend = "cpu")
expectGolden("../golden/cases/seed003-gqa-keypad", backend = "reference")
expectGolden("../golden/cases/seed003-gqa-keypad", backend = "cpu")

compare(mha, gqa8)
