// The table of the source articles: parameters and KV cache of MHA, MQA, GQA and MLA relative to MHA,
// for a "hidden 256-style" layer with 8 heads of 32 (GQA: 4 KV heads; MLA: latents of 32, nope 16 + rope 16, v 32).
//
//   variant   params   (vs MHA)   cache/token   (vs MHA)
//   MHA       262,144   1.0        512          1
//   MQA       147,456   0.5625     64           1/h = 1/8
//   GQA       196,608   0.75       256          g/h = 4/8
//   MLA       106,560   ~0.41      48           ~0.094
//
// Worked by hand: MHA = 4·d² = 4·256²; MQA = 2·d² + 2·d·d_h; GQA = 2·d² + 2·d·(g·d_h);
// MLA = (d·c_q + c_q + c_q·h·(n+r)) + (d·(c+r) + c + c·h·(n+v)) + (h·v)·d, see CostModel.
// Run it: ./attn run examples/cost-table.attn.kts     Compare it: ./attn compare --config examples/cost-table.attn.kts

fun base(name: String, block: ModelBuilder.() -> Unit) = model(name) { hidden(256); layers(1); contextLength(1); block() }

val mha = base("MHA") { mha { heads(8) } }
val mqa = base("MQA") { mqa { heads(8) } }
val gqa = base("GQA-4") { gqa { heads(query = 8, kv = 4) } }
val mla = base("MLA") { mla { heads(8); qLoraRank(32); kvLoraRank(32); nopeDim(16); ropeDim(16); vHeadDim(32) } }

expect("MHA has 4·d² = 262,144 parameters") { mha.paramsPerLayer shouldBe 262_144L }
expect("MQA has ~0.56 of MHA's parameters (exactly 1/2 + 1/(2h) = 0.5625)") { mqa.paramsVsMha.isAbout(0.5625, within = 1e-12) }
expect("GQA-4 has 0.75 of MHA's parameters (1/2 + g/(2h))") { gqa.paramsVsMha.isAbout(0.75, within = 1e-12) }
expect("MLA has ~0.42 of MHA's parameters") { mla.paramsVsMha.isAbout(0.42, within = 0.02) }

expect("MQA caches 1/h of MHA") { mqa.kvVsMha shouldBe 1.0 / 8 }
expect("GQA caches g/h of MHA") { gqa.kvVsMha shouldBe 4.0 / 8 }
expect("MLA caches ~0.1 of MHA ((c + r) / (2·h·d_h) = 48/512)") { mla.kvVsMha.isAbout(0.1, within = 0.01) }
expect("cache bytes per token at bf16: 1024, 128, 512, 96") {
    listOf(mha, mqa, gqa, mla).map { it.kvBytesPerToken } shouldBe listOf(1024L, 128L, 512L, 96L)
}

compare(mha, mqa, gqa, mla)
