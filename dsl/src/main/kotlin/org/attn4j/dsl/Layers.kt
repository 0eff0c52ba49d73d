package org.attn4j.dsl

import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.StandardLayerConfig
import java.util.OptionalDouble

/**
 * A multi-head attention layer (one KV head per query head):
 * `mha { hidden(256); heads(8) }` (head width defaults to `hidden / heads`).
 */
fun mha(block: StandardLayerBuilder.() -> Unit): StandardLayerConfig =
    StandardLayerBuilder(LayerVariant.MHA, "mha", null).apply(block).build()

/** A multi-query attention layer (one KV head shared by all query heads): `mqa { hidden(256); heads(8) }`. */
fun mqa(block: StandardLayerBuilder.() -> Unit): StandardLayerConfig =
    StandardLayerBuilder(LayerVariant.MQA, "mqa", null).apply(block).build()

/** A grouped-query attention layer: `gqa { hidden(4096); heads(query = 32, kv = 8); headDim(128) }`. */
fun gqa(block: StandardLayerBuilder.() -> Unit): StandardLayerConfig =
    StandardLayerBuilder(LayerVariant.GQA, "gqa", null).apply(block).build()

/**
 * A multi-head latent attention layer (DeepSeek-V2/V3):
 * `mla { hidden(5120); heads(128); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) }`.
 */
fun mla(block: MlaLayerBuilder.() -> Unit): MlaLayerConfig = MlaLayerBuilder("mla", null).apply(block).build()

/** Builds an MHA, MQA or GQA [StandardLayerConfig]; see [mha], [mqa], [gqa]. */
class StandardLayerBuilder internal constructor(
    private val variant: LayerVariant,
    path: String,
    private val modelHidden: Int?,
) : MaskedBuilder(path) {
    private var hidden: Int? = null
    private var qHeads: Int? = null
    private var kvHeads: Int? = null
    private var headDim: Int? = null
    private var bias = false

    /** Model width (inside `model { }` it comes from the model). */
    fun hidden(hidden: Int) {
        this.hidden = hidden
    }

    /**
     * Query heads, and for GQA the KV heads. MHA uses `kv = query`, MQA `kv = 1`; giving another `kv` to those
     * is an error at [build].
     */
    fun heads(query: Int, kv: Int? = null) {
        qHeads = query
        kvHeads = kv
    }

    /** Width of Q, K and V per head (default `hidden / query heads`). */
    fun headDim(headDim: Int) {
        this.headDim = headDim
    }

    /** Whether the four projections carry biases `bq bk bv bo`. */
    fun bias(bias: Boolean = true) {
        this.bias = bias
    }

    /** The immutable config; throws [DslValidationException] naming the path and the rule. */
    fun build(): StandardLayerConfig {
        val d = resolveHidden(path, hidden, modelHidden)
        val q = qHeads ?: invalid("$path.heads", "not set; call heads(${if (variant == LayerVariant.GQA) "query = …, kv = …" else "…"})")
        val kv = kvHeads ?: when (variant) {
            LayerVariant.MHA -> q
            LayerVariant.MQA -> 1
            else -> invalid("$path.heads", "kv heads not set; call heads(query = $q, kv = …)")
        }
        val hd = headDim ?: run {
            if (q < 1) invalid("$path.heads", "query heads must be >= 1, got $q")
            if (d % q != 0) invalid("$path.headDim", "not set, and hidden $d is not divisible by $q query heads; call headDim(…)")
            d / q
        }
        val explain = explainHeads(q, kv)
        return validated(path, { argument ->
            when {
                argument == "kvHeads" && variant == LayerVariant.MHA && kv >= 1 && q % kv == 0 ->
                    "heads" to "MHA needs kv heads == query heads $q, got $kv (use gqa { } for fewer KV heads)"
                argument == "kvHeads" && variant == LayerVariant.MQA && kv >= 1 && q % kv == 0 ->
                    "heads" to "MQA needs 1 kv head, got $kv (use gqa { } for several KV heads)"
                else -> explain(argument)
            }
        }) {
            StandardLayerConfig(variant, d, q, kv, hd, bias, causal, alignment, window, softcap,
                scale?.let { OptionalDouble.of(it) } ?: OptionalDouble.empty())
        }
    }
}

/** Builds an [MlaLayerConfig]; see [mla]. Defaults follow DeepSeek: causal, RoPE theta 10000, halves pairing, eps 1e-6. */
class MlaLayerBuilder internal constructor(path: String, private val modelHidden: Int?) : MaskedBuilder(path) {
    private var hidden: Int? = null
    private var heads: Int? = null
    private var qLoraRank = 0
    private var kvLoraRank: Int? = null
    private var nopeDim: Int? = null
    private var ropeDim: Int? = null
    private var vHeadDim: Int? = null
    private var ropeTheta = 10000.0
    private var ropeInterleaved = false
    private var rmsEps = 1e-6
    private var positionOffset = 0

    init {
        causal = true // MLA layers are decoder layers: causal unless told otherwise
    }

    /** Model width (inside `model { }` it comes from the model). */
    fun hidden(hidden: Int) {
        this.hidden = hidden
    }

    /** Attention heads (every head reads the shared latent). */
    fun heads(heads: Int) {
        this.heads = heads
    }

    /** Latent width of the query path (`q_lora_rank`); 0 = a plain query projection. */
    fun qLoraRank(rank: Int) {
        qLoraRank = rank
    }

    /** Latent width `c_kv` that the KV cache stores per token (`kv_lora_rank`). */
    fun kvLoraRank(rank: Int) {
        kvLoraRank = rank
    }

    /** Per-head query/key width without RoPE (`qk_nope_head_dim`). */
    fun nopeDim(dim: Int) {
        nopeDim = dim
    }

    /** Decoupled RoPE width (`qk_rope_head_dim`): per head for queries, one shared key per token. Even. */
    fun ropeDim(dim: Int) {
        ropeDim = dim
    }

    /** Per-head value width (`v_head_dim`). */
    fun vHeadDim(dim: Int) {
        vHeadDim = dim
    }

    /** RoPE base, pairing (`true`: `(2i, 2i+1)`, `false`: `(i, i + r/2)`) and the first token's position. */
    fun rope(theta: Double = 10000.0, interleaved: Boolean = false, positionOffset: Int = 0) {
        ropeTheta = theta
        ropeInterleaved = interleaved
        this.positionOffset = positionOffset
    }

    /** Epsilon of the RMSNorms on the latents. */
    fun rmsEps(eps: Double) {
        rmsEps = eps
    }

    /** Turns the (default) causal mask off, e.g. for an encoder-style comparison. */
    fun notCausal() {
        causal = false
    }

    /** The immutable config; throws [DslValidationException] naming the path and the rule. */
    fun build(): MlaLayerConfig {
        val d = resolveHidden(path, hidden, modelHidden)
        val h = heads ?: invalid("$path.heads", "not set; call heads(…)")
        val c = kvLoraRank ?: invalid("$path.kvLoraRank", "not set; call kvLoraRank(…) (DeepSeek-V2/V3: 512)")
        val n = nopeDim ?: invalid("$path.nopeDim", "not set; call nopeDim(…) (DeepSeek-V2/V3: 128)")
        val r = ropeDim ?: invalid("$path.ropeDim", "not set; call ropeDim(…) (DeepSeek-V2/V3: 64)")
        val v = vHeadDim ?: n
        if (window != org.attn4j.api.Window.NONE) invalid("$path.window", "MLA layers have no window option (FORMAT.md variant mla)")
        return validated(path) {
            MlaLayerConfig(d, h, qLoraRank, c, n, r, v, ropeTheta, ropeInterleaved, rmsEps, positionOffset, causal,
                alignment, softcap, scale?.let { OptionalDouble.of(it) } ?: OptionalDouble.empty())
        }
    }
}

private fun resolveHidden(path: String, own: Int?, model: Int?): Int {
    if (own != null && model != null && own != model) {
        invalid("$path.hidden", "$own differs from the model's hidden $model (leave it out inside model { })")
    }
    return own ?: model ?: invalid("$path.hidden", "not set; call hidden(…)")
}

/** The layer's variant name as the DSL writes it: `mha`, `mqa`, `gqa`, `mla`. */
val LayerConfig.dslName: String get() = variant().name.lowercase()
