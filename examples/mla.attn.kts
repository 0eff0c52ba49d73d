// Multi-head latent attention (MLA, DeepSeek-V2/V3): the cache holds one latent c_kv (kv_lora_rank wide)
// and one shared RoPE key k_pe per token, instead of K and V for every head.
// Run it: ./attn run examples/mla.attn.kts

val v2 = Presets.deepSeekV2
val v2Mha = model("MHA, DeepSeek-V2 heads") { hidden(5120); layers(60); contextLength(128 * 1024); mha { heads(128); headDim(128) } }

// Worked by hand: (512 + 64) elements · 2 B = 1,152 B per token per layer; MHA with 128 heads of 128:
// 2·128·128·2 = 65,536 B. Over 60 layers: 69,120 B vs 3,932,160 B per token.
expect("DeepSeek-V2 caches (c + r)·b = 1,152 B per token per layer") { v2.kvBytesPerTokenPerLayer shouldBe 1_152L }
expect("that is 576/32768 of an MHA with the same heads") { v2.kvVsMha shouldBe 576.0 / 32768 }
expect("69,120 B per token over 60 layers") { v2.kvBytesPerToken shouldBe 69_120L }
expect("MHA would cache 3,932,160 B per token") { v2Mha.kvBytesPerToken shouldBe 3_932_160L }
expect("DeepSeek-V3 caches the same per layer, over 61 layers") { Presets.deepSeekV3.kvBytesPerToken shouldBe 576L * 2 * 61 }

// A small MLA layer, with and without the query LoRA, on the CPU backend against the float64 reference.
val small = mla { hidden(64); heads(4); qLoraRank(24); kvLoraRank(16); nopeDim(8); ropeDim(4); vHeadDim(8) }
val plainQuery = mla { hidden(48); heads(3); kvLoraRank(12); nopeDim(6); ropeDim(6); vHeadDim(5) }
expectMatchesReference(small, backend = "cpu")
expectMatchesReference(plainQuery, backend = "cpu", batch = 1, qLen = 9)
expectDecodingMatchesReference(small, backend = "cpu", chunks = intArrayOf(5, 1, 1, 1))
