// KV-cache decoding: a prompt is prefilled, then tokens are generated one at a time; each step appends its
// key/value (or MLA latent) to the cache and attends over everything cached, bottom-right aligned.
// Chunked decoding must give exactly what one causal call over the whole sequence gives.
// Run it: ./attn run examples/kv-cache-decoding.attn.kts

// The source article's decoding layer: hidden 48, 6 query heads, 2 KV heads, causal (golden seed004-gqa-kvcache-decode-fixed).
val gqa = gqa { hidden(48); heads(query = 6, kv = 2); causal() }
expectDecodingMatchesReference(gqa, backend = "cpu", batch = 2, chunks = intArrayOf(1, 1, 1, 1, 1, 1))
expectDecodingMatchesReference(gqa, backend = "cpu", batch = 1, chunks = intArrayOf(9, 1, 1, 3))
expectDecodingMatchesReference(mha { hidden(32); heads(4); bias(); causal() }, backend = "cpu", chunks = intArrayOf(7, 1, 1, 1))
expectDecodingMatchesReference(mqa { hidden(32); heads(4); causal() }, backend = "cpu", chunks = intArrayOf(4, 4, 1))
expectDecodingMatchesReference(
    mla { hidden(32); heads(2); kvLoraRank(8); nopeDim(4); ropeDim(4); vHeadDim(4) }, backend = "cpu", chunks = intArrayOf(6, 1, 1))

// A decode step in kernel terms: one query attending over a long cache, bottom-right aligned.
expectMatchesReference(attention { heads(query = 32, kv = 8); headDim(64); causal() }, backend = "cpu", qLen = 1, kvLen = 300)

expectGolden("../golden/cases/seed004-gqa-kvcache-decode-fixed", backend = "reference")
expectGolden("../golden/cases/seed004-gqa-kvcache-decode-fixed", backend = "cpu")

// What the cache costs: LLaMA-2-70B-like (GQA 64/8, 80 layers) at bf16.
// Worked by hand: 2·8·128·2 B = 4,096 B per token per layer · 80 = 327,680 B; · 4,096 tokens = 1.25 GiB.
expect("LLaMA-2-70B caches 1.25 GiB for its 4K context") { Presets.llama2_70b.kvCacheBytes() shouldBe 1_342_177_280L }
