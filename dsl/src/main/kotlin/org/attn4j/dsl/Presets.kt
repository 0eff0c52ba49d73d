package org.attn4j.dsl

/**
 * Attention configurations of well-known models, with the public dimensions they were built from. The names say
 * "-like": only the attention layer is modelled (no FFN, MoE or embeddings), and the context length is the one
 * the model card states.
 */
object Presets {
    /**
     * ChatGLM2-6B (THUDM/chatglm2-6b `config.json`): `hidden_size` 4096, `num_layers` 28,
     * `num_attention_heads` 32, `kv_channels` 128, `multi_query_attention` true with `multi_query_group_num` 2
     * (GQA with 2 KV heads), `seq_length` 32768, `add_qkv_bias` true, `add_bias_linear` false.
     * The api's `bias` flag covers `bq bk bv bo` together, so this counts 4096 output-bias parameters
     * ChatGLM2 does not have (0.01% of the layer).
     */
    val chatGlm2_6b: ModelConfig = model("ChatGLM2-6B-like") {
        hidden(4096); layers(28); contextLength(32768)
        source("THUDM/chatglm2-6b config.json: hidden 4096, 28 layers, 32 heads, kv_channels 128, multi_query_group_num 2, seq_length 32768")
        gqa { heads(query = 32, kv = 2); headDim(128); bias(); causal() }
    }

    /**
     * LLaMA-2-70B (meta-llama/Llama-2-70b-hf `config.json`): `hidden_size` 8192, `num_hidden_layers` 80,
     * `num_attention_heads` 64, `num_key_value_heads` 8 (head dim 8192 / 64 = 128), `max_position_embeddings` 4096,
     * no attention biases.
     */
    val llama2_70b: ModelConfig = model("LLaMA-2-70B-like") {
        hidden(8192); layers(80); contextLength(4096)
        source("meta-llama/Llama-2-70b-hf config.json: hidden 8192, 80 layers, 64 heads, 8 KV heads, context 4096")
        gqa { heads(query = 64, kv = 8); headDim(128); causal() }
    }

    /**
     * Mistral-7B-v0.1 (mistralai/Mistral-7B-v0.1 `config.json`): `hidden_size` 4096, `num_hidden_layers` 32,
     * `num_attention_heads` 32, `num_key_value_heads` 8 (head dim 128), `sliding_window` 4096,
     * `max_position_embeddings` 32768. The paper (arXiv:2310.06825 §2) lets position i attend to positions
     * i − W … i, which is FORMAT.md's `window(left = W)`.
     */
    val mistral7b: ModelConfig = model("Mistral-7B-like") {
        hidden(4096); layers(32); contextLength(32768)
        source("mistralai/Mistral-7B-v0.1 config.json: hidden 4096, 32 layers, 32 heads, 8 KV heads, sliding_window 4096")
        gqa { heads(query = 32, kv = 8); headDim(128); causal(); window(left = 4096) }
    }

    /**
     * DeepSeek-V2 (deepseek-ai/DeepSeek-V2 `config.json`; arXiv:2405.04434 §2.1): `hidden_size` 5120,
     * `num_hidden_layers` 60, `num_attention_heads` 128, `q_lora_rank` 1536, `kv_lora_rank` 512,
     * `qk_rope_head_dim` 64, `qk_nope_head_dim` 128, `v_head_dim` 128, `rope_theta` 10000, `rms_norm_eps` 1e-6;
     * 128K context (`max_position_embeddings` 163840 with YaRN, which FORMAT.md does not model).
     */
    val deepSeekV2: ModelConfig = model("DeepSeek-V2-like") {
        hidden(5120); layers(60); contextLength(128 * 1024)
        source("deepseek-ai/DeepSeek-V2 config.json: hidden 5120, 60 layers, 128 heads, q_lora 1536, kv_lora 512, rope 64, nope 128, v 128")
        mla { heads(128); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) }
    }

    /**
     * DeepSeek-V3 (deepseek-ai/DeepSeek-V3 `config.json`; arXiv:2412.19437 §2.1): `hidden_size` 7168,
     * `num_hidden_layers` 61, `num_attention_heads` 128, the same MLA widths as V2 (`q_lora_rank` 1536,
     * `kv_lora_rank` 512, rope 64, nope 128, v 128); 128K context.
     */
    val deepSeekV3: ModelConfig = model("DeepSeek-V3-like") {
        hidden(7168); layers(61); contextLength(128 * 1024)
        source("deepseek-ai/DeepSeek-V3 config.json: hidden 7168, 61 layers, 128 heads, q_lora 1536, kv_lora 512, rope 64, nope 128, v 128")
        mla { heads(128); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) }
    }

    /** Every named model preset. */
    val all: List<ModelConfig> get() = listOf(chatGlm2_6b, llama2_70b, mistral7b, deepSeekV2, deepSeekV3)

    /**
     * The four variants at one representative size, what `attn compare` shows by default: a 7B-class width
     * (hidden 4096, 32 heads of 128, 32 layers), GQA with 8 KV heads (as LLaMA-2/3 and Mistral), and MLA with
     * DeepSeek-V2's latent widths (q_lora 1536, kv_lora 512, nope 128, rope 64, v 128) on the same 32 heads.
     */
    fun representative(contextLength: Int = 32768, layers: Int = 32): List<ModelConfig> {
        fun base(name: String, block: ModelBuilder.() -> Unit) = model(name) {
            hidden(4096); layers(layers); contextLength(contextLength); block()
        }
        return listOf(
            base("MHA") { mha { heads(32); headDim(128); causal() } },
            base("MQA") { mqa { heads(32); headDim(128); causal() } },
            base("GQA") { gqa { heads(query = 32, kv = 8); headDim(128); causal() } },
            base("MLA") { mla { heads(32); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) } },
        )
    }

    /**
     * The design's source-article table (hidden 256, 8 heads of 32; GQA with 4 KV heads; MLA with the
     * reconstructed widths of [org.attn4j.reference.cost.CostModel.articleConfig]: q_lora 32, kv_lora 32,
     * nope 16, rope 16, v 32). One layer, a context of one token: per-token, per-layer figures.
     */
    fun article(): List<ModelConfig> {
        fun base(name: String, block: ModelBuilder.() -> Unit) = model(name) {
            hidden(256); layers(1); contextLength(1); block()
        }
        return listOf(
            base("article MHA") { mha { heads(8) } },
            base("article MQA") { mqa { heads(8) } },
            base("article GQA") { gqa { heads(query = 8, kv = 4) } },
            base("article MLA") { mla { heads(8); qLoraRank(32); kvLoraRank(32); nopeDim(16); ropeDim(16); vHeadDim(32) } },
        )
    }
}
