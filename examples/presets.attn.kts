// Named presets: public attention dimensions of well-known models (see Presets.kt for the config.json values).
// Compare them: ./attn compare --config examples/presets.attn.kts --context 32768

val glm = Presets.chatGlm2_6b
val llama = Presets.llama2_70b
val mistral = Presets.mistral7b
val dsV2 = Presets.deepSeekV2
val dsV3 = Presets.deepSeekV3

// Worked by hand, bf16 (2 B per element), per token over all layers:
//   ChatGLM2-6B  2·2·128·2 · 28 =  28,672 B     LLaMA-2-70B 2·8·128·2 · 80 = 327,680 B
//   Mistral-7B   2·8·128·2 · 32 = 131,072 B     DeepSeek-V2 (512+64)·2 · 60 = 69,120 B, V3 · 61 = 70,272 B
expect("KV bytes per token of the presets") {
    listOf(glm, llama, mistral, dsV2, dsV3).map { it.kvBytesPerToken } shouldBe listOf(28_672L, 327_680L, 131_072L, 69_120L, 70_272L)
}
expect("ChatGLM2-6B uses 2 KV groups for 32 heads: 1/16 of MHA's cache") { glm.kvVsMha shouldBe 1.0 / 16 }
expect("Mistral-7B's sliding window is 4096 tokens") { (mistral.layer as StandardLayerConfig).window().left() shouldBe 4096 }

// Each preset's attention kernel on the CPU backend against the reference, at short lengths.
expectMatchesReference(llama.layer.attentionSpec(), backend = "cpu", qLen = 5, kvLen = 21)
expectMatchesReference(mistral.layer.attentionSpec().toBuilder().window(Window.left(8)).build(), backend = "cpu", qLen = 19, kvLen = 19,
    description = "Mistral-7B-like GQA 32/8 with its window shrunk to 8 so that it bites at 19 tokens")
expectMatchesReference(glm.layer.attentionSpec(), backend = "cpu", qLen = 3, kvLen = 3)

compare(glm, mistral, llama, dsV2, dsV3)
