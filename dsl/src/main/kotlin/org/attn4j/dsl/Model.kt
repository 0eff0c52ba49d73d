package org.attn4j.dsl

import org.attn4j.api.AttentionException
import org.attn4j.api.DType
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.StandardLayerConfig
import org.attn4j.reference.cost.CostConfig
import org.attn4j.reference.cost.CostModel
import org.attn4j.reference.cost.MlaDims
import org.attn4j.reference.cost.VariantCost

/**
 * A model as far as attention is concerned: its width, how many identical attention layers it stacks, the
 * context it is run at, and the layer. What the cost model and `attn compare` need.
 *
 * ```
 * val mistral = model("Mistral-7B-like") {
 *     hidden(4096); layers(32); contextLength(32768)
 *     gqa { heads(query = 32, kv = 8); headDim(128); causal(); window(left = 4096) }
 * }
 * ```
 *
 * @property name            a label for tables and reports
 * @property hidden          model width (the layer's `hidden`)
 * @property layers          attention layers
 * @property contextLength   tokens per sequence for whole-model KV-cache figures
 * @property layer           the attention layer every block uses
 * @property bytesPerElement bytes of one cached K/V (or latent) element: 2 for bf16/fp16, 4 for fp32, 1 for fp8
 * @property source          where the numbers come from (model card, config.json)
 * @property kvDtype         the KV cache's storage type (`kvCache { dtype = BF16 }`): sets [bytesPerElement], and int8
 *                           adds a 4-byte scale per token and KV head; null = [bytesPerElement] only, no type named
 */
data class ModelConfig(
    val name: String,
    val hidden: Int,
    val layers: Int,
    val contextLength: Int,
    val layer: LayerConfig,
    val bytesPerElement: Int = 2,
    val source: String = "",
    val kvDtype: DType? = null,
) {
    init {
        val path = "model(\"$name\")"
        if (name.isBlank()) invalid("model.name", "must not be blank")
        if (hidden < 1) invalid("$path.hidden", "must be >= 1, got $hidden")
        if (layer.hidden() != hidden) invalid("$path.${layer.dslName}.hidden", "${layer.hidden()} differs from the model's hidden $hidden")
        if (layers < 1) invalid("$path.layers", "must be >= 1, got $layers")
        if (contextLength < 1) invalid("$path.contextLength", "must be >= 1, got $contextLength")
        if (bytesPerElement !in 1..16) invalid("$path.bytesPerElement", "must be in [1, 16], got $bytesPerElement")
        if (kvDtype != null) {
            if (!kvDtype.isReal()) invalid("$path.kvCache.dtype", "must be one of ${KvCacheBuilder.NAMES} (a KV cache holds real numbers), got $kvDtype")
            if (bytesPerElement != kvDtype.bytes()) invalid("$path.bytesPerElement", "must be ${kvDtype.bytes()} for a $kvDtype cache, got $bytesPerElement")
        }
    }

    val variant: LayerVariant get() = layer.variant()

    /** `MHA`, `MQA`, `GQA-8` (8 KV heads), `MLA`, as the cost model labels it. */
    val label: String get() = cost.label()

    /** This model in the cost model's terms: the layer's dims, with an MHA of the same heads as the baseline. */
    fun costConfig(): CostConfig = when (val l = layer) {
        is StandardLayerConfig -> CostConfig(name, hidden, l.qHeads(), l.headDim(), l.kvHeads(), l.bias(), null,
            bytesPerElement, layers, contextLength.toLong(), source, kvDtype)
        // The MHA baseline of an MLA model has `heads` heads of width v_head_dim, as in DeepSeek-V2's comparison.
        is MlaLayerConfig -> CostConfig(name, hidden, l.qHeads(), l.vHeadDim(), 1, false, MlaDims.of(l),
            bytesPerElement, layers, contextLength.toLong(), source, kvDtype)
    }

    /** Parameters and KV cache of one layer, with formulas (from [CostModel]). */
    val cost: VariantCost get() = CostModel.cost(costConfig(), variant)

    /** Parameters of one attention layer. */
    val paramsPerLayer: Long get() = cost.params()

    /** Parameters relative to an MHA layer with the same heads (MHA = 1.0). */
    val paramsVsMha: Double get() = cost.paramsVsMha()

    /** KV-cache bytes per token for one layer. */
    val kvBytesPerTokenPerLayer: Long get() = cost.kvBytesPerToken()

    /** KV-cache bytes per token over all [layers]. */
    val kvBytesPerToken: Long get() = Math.multiplyExact(cost.kvBytesPerToken(), layers.toLong())

    /** KV-cache elements per token relative to the same-heads MHA (1, 1/h, g/h, (c+r)/(2·h·d_h)). */
    val kvVsMha: Double get() = cost.kvVsMha()

    /** KV-cache bytes of one sequence of [context] tokens through all layers. */
    fun kvCacheBytes(context: Long = contextLength.toLong()): Long = cost.kvBytes(context, layers)

    /** The same model with another layer (e.g. `llama.withLayer(mqa { heads(64) })`); hidden must match. */
    fun withLayer(layer: LayerConfig, name: String = this.name): ModelConfig = copy(name = name, layer = layer)

    /** The same model with its KV cache stored as [dtype] (e.g. `gqa.withKvDtype(DType.BFLOAT16, "GQA-8 bf16")`). */
    fun withKvDtype(dtype: DType, name: String = this.name): ModelConfig = copy(name = name, kvDtype = dtype, bytesPerElement = dtype.bytes())

    /** The KV cache's storage as a short name: `bf16`, `int8`, ... or `N B/element` when no type is named. */
    val kvStorage: String get() = kvDtype?.let { KvCacheBuilder.shortName(it) } ?: "$bytesPerElement B/element"

    override fun toString(): String = "$name ($label, hidden $hidden, $layers layers, context $contextLength)"
}

/** Builds a [ModelConfig]; exactly one of [mha], [mqa], [gqa], [mla] gives its layer. */
fun model(name: String, block: ModelBuilder.() -> Unit): ModelConfig = ModelBuilder(name).apply(block).build()

/** See [model]. */
@AttnDsl
class ModelBuilder internal constructor(private val name: String) {
    private val path = "model(\"$name\")"
    private var hidden: Int? = null
    private var layers: Int? = null
    private var contextLength = 4096
    private var bytesPerElement = 2
    private var kvDtype: DType? = null
    private var source = ""
    private var layer: (() -> LayerConfig)? = null

    /** Model width; the layer inherits it. */
    fun hidden(hidden: Int) {
        this.hidden = hidden
    }

    /** How many attention layers the model stacks. */
    fun layers(layers: Int) {
        this.layers = layers
    }

    /** Tokens per sequence for whole-model KV-cache figures (default 4096). */
    fun contextLength(tokens: Int) {
        contextLength = tokens
    }

    /** Bytes per cached element: 2 (bf16, the default), 4 (fp32), 1 (fp8). */
    fun cacheBytesPerElement(bytes: Int) {
        bytesPerElement = bytes
        kvDtype = null
    }

    /**
     * The KV cache's storage type: `kvCache { dtype = BF16 }` (F32, F16, BF16, INT8, or any `DType`). It sets the bytes per
     * element; INT8 also counts its 4-byte scale per token and KV head. A type a cache cannot hold is a validation error.
     */
    fun kvCache(block: KvCacheBuilder.() -> Unit) {
        val b = KvCacheBuilder("$path.kvCache").apply(block)
        val d = b.dtype ?: invalid("$path.kvCache.dtype", "not set; write kvCache { dtype = BF16 } (one of ${KvCacheBuilder.NAMES})")
        if (!d.isReal()) invalid("$path.kvCache.dtype", "must be one of ${KvCacheBuilder.NAMES} (a KV cache holds real numbers), got $d")
        kvDtype = d
        bytesPerElement = d.bytes()
    }

    /** Where the numbers come from. */
    fun source(text: String) {
        source = text
    }

    fun mha(block: StandardLayerBuilder.() -> Unit) = setLayer { StandardLayerBuilder(LayerVariant.MHA, "$path.mha", requireHidden()).apply(block).build() }

    fun mqa(block: StandardLayerBuilder.() -> Unit) = setLayer { StandardLayerBuilder(LayerVariant.MQA, "$path.mqa", requireHidden()).apply(block).build() }

    fun gqa(block: StandardLayerBuilder.() -> Unit) = setLayer { StandardLayerBuilder(LayerVariant.GQA, "$path.gqa", requireHidden()).apply(block).build() }

    fun mla(block: MlaLayerBuilder.() -> Unit) = setLayer { MlaLayerBuilder("$path.mla", requireHidden()).apply(block).build() }

    /** Uses a layer built elsewhere (its hidden must equal the model's). */
    fun layer(config: LayerConfig) = setLayer { config }

    // The layer is built at build(), after hidden() may have been called below it.
    private fun setLayer(make: () -> LayerConfig) {
        if (layer != null) invalid("$path.layer", "given twice; a model has one attention layer kind")
        layer = make
    }

    private fun requireHidden(): Int = hidden ?: invalid("$path.hidden", "not set; call hidden(…)")

    fun build(): ModelConfig {
        requireHidden()
        val l = layers ?: invalid("$path.layers", "not set; call layers(…)")
        val make = layer ?: invalid("$path.layer", "not set; add one of mha { }, mqa { }, gqa { }, mla { }")
        return try {
            ModelConfig(name, hidden!!, l, contextLength, make(), bytesPerElement, source, kvDtype)
        } catch (e: DslValidationException) {
            throw e
        } catch (e: AttentionException) {
            throw DslValidationException(path, e.message ?: "invalid", e)
        }
    }
}

/**
 * `kvCache { dtype = BF16 }` inside a [model]: how the KV cache stores its elements. The short names are the storage
 * types of `org.attn4j.api.Quantization`: [F32], [F16], [BF16], [INT8] (and [F64]).
 */
@AttnDsl
class KvCacheBuilder internal constructor(private val path: String) {
    /** The storage type; required. */
    var dtype: DType? = null

    /** Sets [dtype] from a short name (`f32`, `f16`, `bf16`, `int8`, `f64`) or a `DType` name; anything else is a validation error. */
    fun dtype(name: String) {
        dtype = parse(name) ?: invalid("$path.dtype", "must be one of $NAMES, got '$name'")
    }

    val F32: DType get() = DType.FLOAT32
    val F64: DType get() = DType.FLOAT64
    val F16: DType get() = DType.FLOAT16
    val BF16: DType get() = DType.BFLOAT16
    val INT8: DType get() = DType.INT8

    companion object {
        private val SHORT = linkedMapOf("f32" to DType.FLOAT32, "f16" to DType.FLOAT16, "bf16" to DType.BFLOAT16, "int8" to DType.INT8,
            "f64" to DType.FLOAT64)

        /** The accepted names, for messages. */
        const val NAMES = "F32, F16, BF16, INT8 (or F64)"

        /** `bf16` -> BFLOAT16 (also `BFLOAT16`, `float16`, ...); null when [name] names no cache type. */
        @JvmStatic
        fun parse(name: String): DType? {
            val n = name.trim().lowercase()
            return SHORT[n] ?: DType.entries.firstOrNull { it.name.lowercase() == n && it.isReal() }
        }

        /** BFLOAT16 -> `bf16`. */
        @JvmStatic
        fun shortName(dtype: DType): String = SHORT.entries.firstOrNull { it.value == dtype }?.key ?: dtype.name.lowercase()
    }
}
