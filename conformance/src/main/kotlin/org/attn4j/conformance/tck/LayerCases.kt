package org.attn4j.conformance.tck

import io.kotest.property.Arb
import io.kotest.property.arbitrary.map
import org.attn4j.api.Alignment
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.util.OptionalDouble
import java.util.SplittableRandom
import kotlin.math.sqrt

/** How a sequence is fed through a KV cache in `LayerPlan.step` calls. */
enum class Chunking {
    /** one chunk: the whole sequence */
    ONE,
    /** a prefill of half the sequence, then one token per step */
    PREFILL_THEN_DECODE,
    /** one token per step */
    TOKEN_BY_TOKEN,
    /** random chunk sizes, empty chunks included */
    RANDOM;

    /** Chunk sizes adding up to [len]. */
    fun sizes(len: Int, rnd: SplittableRandom): IntArray = when (this) {
        ONE -> intArrayOf(len)
        PREFILL_THEN_DECODE -> (listOf(len / 2) + List(len - len / 2) { 1 }).toIntArray()
        TOKEN_BY_TOKEN -> IntArray(len) { 1 }
        RANDOM -> {
            val out = ArrayList<Int>()
            var left = len
            while (left > 0) {
                val n = if (rnd.nextInt(6) == 0) 0 else 1 + rnd.nextInt(minOf(left, 5))
                out += n
                left -= n
            }
            if (out.isEmpty()) out += 0
            out.toIntArray()
        }
    }
}

/** The genes of a [StandardLayerCase] (an MHA/MQA/GQA layer call). */
enum class StandardLayerGene {
    BATCH, HEADS, HEAD_DIM, HIDDEN, Q_LEN, KV_LEN, CROSS, KEY_PAD, BIAS, CAUSAL, ALIGN, WINDOW, WIN_LEFT, WIN_RIGHT,
    SOFTCAP, SCALE, GQA_LABEL, CHUNKS, DATA,
    /** The KV cache's storage type in the cache checks ([LayerTables.CACHE_STORAGE]); last, and float32 unless a profile frees it. */
    CACHE_DTYPE,
}

/** The genes of an [MlaLayerCase] (a multi-head latent attention layer call). */
enum class MlaLayerGene {
    BATCH, HEADS, HIDDEN, Q_LORA, KV_LORA, NOPE, ROPE, V_DIM, THETA, INTERLEAVED, OFFSET, CAUSAL, ALIGN, SOFTCAP, SCALE,
    LEN, KEY_PAD, PATH, CHUNKS, DATA,
    /** The latent cache's storage type ([LayerTables.CACHE_STORAGE]); last, and float32 unless a profile frees it. */
    CACHE_DTYPE,
}

/** Small tables shared by the layer generators (layers cost more per case than kernels, so sizes stay small). */
internal object LayerTables {
    val HEAD_PAIRS = KernelGenes.HEAD_PAIRS.filter { it.first <= 12 }
    val HEAD_DIMS = intArrayOf(1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 31, 32, 33)
    val HIDDEN = intArrayOf(1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 32, 33, 48, 64)
    val LENGTHS = intArrayOf(1, 0, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33)
    val SOFTCAPS = doubleArrayOf(0.0, 1.0, 5.0, 30.0)
    val SCALES = doubleArrayOf(Double.NaN, 1.0, 0.25, 2.0)
    val WINDOW_SIZES = intArrayOf(0, 1, 2, 3, 5, 8, 16)
    val MLA_HEADS = intArrayOf(1, 2, 3, 4, 5, 8)
    val Q_LORA = intArrayOf(0, 3, 8, 16)
    val KV_LORA = intArrayOf(1, 2, 4, 7, 8, 16, 32)
    val NOPE = intArrayOf(0, 1, 2, 3, 4, 8, 13, 16)
    val ROPE = intArrayOf(0, 2, 4, 6, 8, 16)
    val MLA_V = intArrayOf(1, 2, 3, 4, 8, 13, 16)
    val THETAS = doubleArrayOf(10000.0, 500.0, 1e6)
    val OFFSETS = intArrayOf(0, 1, 7, 1000)
    /** Storage types of a layer's KV cache (`LayerPlan.newCache(batch, maxLength, storage)`). */
    val CACHE_STORAGE = KernelGenes.KV_STORAGE

    /** nn.Linear-like weights `U(-a, a)`, `a = 1.5 sqrt(3 / fan_in)`, so activations keep a unit-ish scale. */
    fun weight(rnd: SplittableRandom, out: Int, inF: Int): FloatTensor =
        KernelCase.uniform(rnd, intArrayOf(out, inF), 1.5 * sqrt(3.0 / maxOf(inF, 1)))

    /** RMSNorm gains in `[0.5, 1.5)`. */
    fun gain(rnd: SplittableRandom, n: Int): FloatTensor = FloatTensor.of(FloatArray(n) { (0.5 + rnd.nextDouble()).toFloat() }, n)

    /** A `[B, L]` key padding mask keeping about 75 % of the keys; some rows may keep none. */
    fun keyPadding(rnd: SplittableRandom, batch: Int, len: Int): BoolTensor =
        BoolTensor.of(BooleanArray(batch * len) { rnd.nextDouble() < 0.75 }, batch, len)
}

/**
 * One generated MHA/MQA/GQA layer call, with weights and activations derived from [dataSeed].
 *
 * @property kvLen length of the cross-attention memory (used when [cross])
 * @property chunking how [qLen] tokens are fed through `step` in the KV-cache checks
 */
data class StandardLayerCase(
    val batch: Int, val variant: LayerVariant, val hidden: Int, val qHeads: Int, val kvHeads: Int, val headDim: Int, val bias: Boolean,
    val causal: Boolean, val alignment: Alignment, val window: Window, val softcap: Double, val scale: Double?,
    val qLen: Int, val kvLen: Int, val cross: Boolean, val keyPadding: Boolean, val chunking: Chunking, val dataSeed: Long,
    val cacheDtype: DType = DType.FLOAT32,
) {
    val config: StandardLayerConfig by lazy {
        StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, bias, causal, alignment, window, softcap,
            if (scale == null) OptionalDouble.empty() else OptionalDouble.of(scale))
    }

    private val rnd get() = SplittableRandom(dataSeed)

    /** `wq [Hq*D, hidden]`, `wk, wv [Hkv*D, hidden]`, `wo [hidden, Hq*D]`, biases when [bias]. */
    val weights: StandardLayerWeights by lazy {
        val r = rnd
        val q = qHeads * headDim
        val kv = kvHeads * headDim
        fun b(n: Int) = if (bias) KernelCase.uniform(r, intArrayOf(n), 0.5) else null
        StandardLayerWeights(LayerTables.weight(r, q, hidden), b(q), LayerTables.weight(r, kv, hidden), b(kv),
            LayerTables.weight(r, kv, hidden), b(kv), LayerTables.weight(r, hidden, q), b(hidden))
    }

    /** `x [B, Lq, hidden]`, `kvX [B, Lk, hidden]` (cross only), `keyPaddingMask [B, Lk or Lq]`, and the chunk sizes. */
    val activations: Activations by lazy {
        val r = SplittableRandom(dataSeed + 1)
        val x = KernelCase.uniform(r, intArrayOf(batch, qLen, hidden), 1.0)
        val kvX = if (cross) KernelCase.uniform(r, intArrayOf(batch, kvLen, hidden), 1.0) else null
        val kpm = if (keyPadding) LayerTables.keyPadding(r, batch, if (cross) kvLen else qLen) else null
        Activations(x, kvX, kpm, chunking.sizes(qLen, r))
    }

    override fun toString(): String = buildString {
        append("$variant B=$batch hidden=$hidden Hq=$qHeads Hkv=$kvHeads D=$headDim Lq=$qLen")
        if (cross) append(" cross Lk=$kvLen")
        if (bias) append(" bias")
        if (keyPadding) append(" keyPaddingMask")
        if (causal) append(" causal")
        if (causal || !window.isNone) append(if (alignment == Alignment.TOP_LEFT) " top-left" else " bottom-right")
        if (!window.isNone) append(" window=[${window.left()},${window.right()}]")
        if (softcap > 0) append(" softcap=$softcap")
        if (scale != null) append(" scale=$scale")
        if (cacheDtype != DType.FLOAT32) append(" cache=$cacheDtype")
        append(" chunks=${activations.chunks.contentToString()} data=$dataSeed")
    }

    companion object {
        fun defaults(g: StandardLayerGene): Domain = when (g) {
            StandardLayerGene.BATCH -> Domain.Values(intArrayOf(0, 1, 2), doubleArrayOf(3.0, 2.0, 1.0))
            StandardLayerGene.HEADS -> GenePool.indices(LayerTables.HEAD_PAIRS.size) { if (LayerTables.HEAD_PAIRS[it].first <= 4) 2.0 else 1.0 }
            StandardLayerGene.HEAD_DIM -> GenePool.indices(LayerTables.HEAD_DIMS.size)
            StandardLayerGene.HIDDEN -> GenePool.indices(LayerTables.HIDDEN.size)
            StandardLayerGene.Q_LEN, StandardLayerGene.KV_LEN -> GenePool.indices(LayerTables.LENGTHS.size) { if (it == 1) 0.3 else 1.0 }
            StandardLayerGene.WIN_LEFT, StandardLayerGene.WIN_RIGHT -> GenePool.indices(LayerTables.WINDOW_SIZES.size)
            StandardLayerGene.WINDOW -> KernelGenes.sometimes(4, 0.25)
            StandardLayerGene.SOFTCAP -> KernelGenes.sometimes(LayerTables.SOFTCAPS.size, 0.25)
            StandardLayerGene.SCALE -> KernelGenes.sometimes(LayerTables.SCALES.size, 0.25)
            StandardLayerGene.BIAS, StandardLayerGene.CAUSAL, StandardLayerGene.ALIGN, StandardLayerGene.GQA_LABEL -> KernelGenes.sometimes(2, 0.5)
            StandardLayerGene.CHUNKS -> GenePool.indices(Chunking.entries.size)
            StandardLayerGene.DATA -> Domain.Range(Int.MAX_VALUE - 1)
            StandardLayerGene.CROSS, StandardLayerGene.KEY_PAD -> GenePool.only(0)
            StandardLayerGene.CACHE_DTYPE -> Domain.Fixed(0)
        }

        fun arb(profile: Map<StandardLayerGene, Domain>): Arb<StandardLayerCase> =
            GenePool.of(StandardLayerGene.entries.toTypedArray(), ::defaults, profile).arb().map(::decode)

        fun decode(g: Genome): StandardLayerCase {
            val (hq, hkv) = LayerTables.HEAD_PAIRS[g[StandardLayerGene.HEADS]]
            val variant = when {
                g[StandardLayerGene.GQA_LABEL] == 1 -> LayerVariant.GQA
                hkv == hq -> LayerVariant.MHA
                hkv == 1 -> LayerVariant.MQA
                else -> LayerVariant.GQA
            }
            val l = LayerTables.WINDOW_SIZES[g[StandardLayerGene.WIN_LEFT]]
            val r = LayerTables.WINDOW_SIZES[g[StandardLayerGene.WIN_RIGHT]]
            return StandardLayerCase(
                batch = 1 + g[StandardLayerGene.BATCH], variant = variant, hidden = LayerTables.HIDDEN[g[StandardLayerGene.HIDDEN]], qHeads = hq, kvHeads = hkv,
                headDim = LayerTables.HEAD_DIMS[g[StandardLayerGene.HEAD_DIM]], bias = g[StandardLayerGene.BIAS] == 1, causal = g[StandardLayerGene.CAUSAL] == 1,
                alignment = if (g[StandardLayerGene.ALIGN] == 1) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT,
                window = when (g[StandardLayerGene.WINDOW]) { 1 -> Window(l, -1); 2 -> Window(-1, r); 3 -> Window(l, r); else -> Window.NONE },
                softcap = LayerTables.SOFTCAPS[g[StandardLayerGene.SOFTCAP]], scale = LayerTables.SCALES[g[StandardLayerGene.SCALE]].takeUnless { it.isNaN() },
                qLen = LayerTables.LENGTHS[g[StandardLayerGene.Q_LEN]], kvLen = LayerTables.LENGTHS[g[StandardLayerGene.KV_LEN]], cross = g[StandardLayerGene.CROSS] == 1,
                keyPadding = g[StandardLayerGene.KEY_PAD] == 1, chunking = Chunking.entries[g[StandardLayerGene.CHUNKS]], dataSeed = g[StandardLayerGene.DATA].toLong(),
                cacheDtype = LayerTables.CACHE_STORAGE[g[StandardLayerGene.CACHE_DTYPE]],
            )
        }
    }
}

/** Activations of a layer case: `x`, the cross-attention memory, the key padding mask, the step chunk sizes. */
class Activations(val x: Tensor, val kvX: Tensor?, val keyPaddingMask: BoolTensor?, val chunks: IntArray)

/** One generated MLA layer call (DeepSeek-V2/V3 weights), with weights and activations derived from [dataSeed]. */
data class MlaLayerCase(
    val batch: Int, val hidden: Int, val heads: Int, val qLoraRank: Int, val kvLoraRank: Int, val nope: Int, val rope: Int, val vHeadDim: Int,
    val ropeTheta: Double, val ropeInterleaved: Boolean, val positionOffset: Int, val causal: Boolean, val alignment: Alignment,
    val softcap: Double, val scale: Double?, val len: Int, val keyPadding: Boolean, val path: PlanOptions.MlaPath, val chunking: Chunking,
    val dataSeed: Long, val cacheDtype: DType = DType.FLOAT32,
) {
    val config: MlaLayerConfig by lazy {
        MlaLayerConfig(hidden, heads, qLoraRank, kvLoraRank, nope, rope, vHeadDim, ropeTheta, ropeInterleaved, 1e-6, positionOffset,
            causal, alignment, softcap, if (scale == null) OptionalDouble.empty() else OptionalDouble.of(scale))
    }

    val weights: MlaLayerWeights by lazy {
        val r = SplittableRandom(dataSeed)
        val qOut = heads * (nope + rope)
        val plainQ = qLoraRank == 0
        MlaLayerWeights(
            if (plainQ) LayerTables.weight(r, qOut, hidden) else null,
            if (plainQ) null else LayerTables.weight(r, qLoraRank, hidden),
            if (plainQ) null else LayerTables.gain(r, qLoraRank),
            if (plainQ) null else LayerTables.weight(r, qOut, qLoraRank),
            LayerTables.weight(r, kvLoraRank + rope, hidden),
            LayerTables.gain(r, kvLoraRank),
            LayerTables.weight(r, heads * (nope + vHeadDim), kvLoraRank),
            LayerTables.weight(r, hidden, heads * vHeadDim),
        )
    }

    val activations: Activations by lazy {
        val r = SplittableRandom(dataSeed + 1)
        val x = KernelCase.uniform(r, intArrayOf(batch, len, hidden), 1.0)
        Activations(x, null, if (keyPadding) LayerTables.keyPadding(r, batch, len) else null, chunking.sizes(len, r))
    }

    override fun toString(): String = buildString {
        append("MLA B=$batch hidden=$hidden H=$heads q_lora=$qLoraRank kv_lora=$kvLoraRank nope=$nope rope=$rope v=$vHeadDim L=$len")
        append(" rope_theta=$ropeTheta ${if (ropeInterleaved) "interleaved" else "halves"} offset=$positionOffset path=$path")
        if (causal) append(" causal ${if (alignment == Alignment.TOP_LEFT) "top-left" else "bottom-right"}")
        if (softcap > 0) append(" softcap=$softcap")
        if (scale != null) append(" scale=$scale")
        if (keyPadding) append(" keyPaddingMask")
        if (cacheDtype != DType.FLOAT32) append(" cache=$cacheDtype")
        append(" chunks=${activations.chunks.contentToString()} data=$dataSeed")
    }

    companion object {
        fun defaults(g: MlaLayerGene): Domain = when (g) {
            MlaLayerGene.BATCH -> Domain.Values(intArrayOf(0, 1, 2), doubleArrayOf(3.0, 2.0, 1.0))
            MlaLayerGene.HEADS -> GenePool.indices(LayerTables.MLA_HEADS.size)
            MlaLayerGene.HIDDEN -> GenePool.indices(LayerTables.HIDDEN.size)
            MlaLayerGene.Q_LORA -> GenePool.indices(LayerTables.Q_LORA.size)
            MlaLayerGene.KV_LORA -> GenePool.indices(LayerTables.KV_LORA.size)
            MlaLayerGene.NOPE -> GenePool.indices(LayerTables.NOPE.size)
            MlaLayerGene.ROPE -> GenePool.indices(LayerTables.ROPE.size)
            MlaLayerGene.V_DIM -> GenePool.indices(LayerTables.MLA_V.size)
            MlaLayerGene.THETA -> GenePool.indices(LayerTables.THETAS.size)
            MlaLayerGene.OFFSET -> GenePool.indices(LayerTables.OFFSETS.size)
            MlaLayerGene.INTERLEAVED, MlaLayerGene.PATH -> KernelGenes.sometimes(2, 0.5)
            MlaLayerGene.CAUSAL -> Domain.Values(intArrayOf(1, 0), doubleArrayOf(2.0, 1.0))   // causal first: MLA is a decoder
            MlaLayerGene.ALIGN -> KernelGenes.sometimes(2, 0.3)
            MlaLayerGene.SOFTCAP -> KernelGenes.sometimes(LayerTables.SOFTCAPS.size, 0.2)
            MlaLayerGene.SCALE -> KernelGenes.sometimes(LayerTables.SCALES.size, 0.2)
            MlaLayerGene.LEN -> GenePool.indices(LayerTables.LENGTHS.size) { if (it == 1) 0.3 else 1.0 }
            MlaLayerGene.KEY_PAD -> KernelGenes.sometimes(2, 0.25)
            MlaLayerGene.CHUNKS -> GenePool.indices(Chunking.entries.size)
            MlaLayerGene.DATA -> Domain.Range(Int.MAX_VALUE - 1)
            MlaLayerGene.CACHE_DTYPE -> Domain.Fixed(0)
        }

        fun arb(profile: Map<MlaLayerGene, Domain>): Arb<MlaLayerCase> = GenePool.of(MlaLayerGene.entries.toTypedArray(), ::defaults, profile).arb().map(::decode)

        fun decode(g: Genome): MlaLayerCase {
            val rope = LayerTables.ROPE[g[MlaLayerGene.ROPE]]
            val nope = LayerTables.NOPE[g[MlaLayerGene.NOPE]].let { if (it + rope == 0) 1 else it }   // Q/K need at least one dim
            return MlaLayerCase(
                batch = 1 + g[MlaLayerGene.BATCH], hidden = LayerTables.HIDDEN[g[MlaLayerGene.HIDDEN]], heads = LayerTables.MLA_HEADS[g[MlaLayerGene.HEADS]],
                qLoraRank = LayerTables.Q_LORA[g[MlaLayerGene.Q_LORA]], kvLoraRank = LayerTables.KV_LORA[g[MlaLayerGene.KV_LORA]], nope = nope, rope = rope,
                vHeadDim = LayerTables.MLA_V[g[MlaLayerGene.V_DIM]], ropeTheta = LayerTables.THETAS[g[MlaLayerGene.THETA]], ropeInterleaved = g[MlaLayerGene.INTERLEAVED] == 1,
                positionOffset = LayerTables.OFFSETS[g[MlaLayerGene.OFFSET]], causal = g[MlaLayerGene.CAUSAL] == 1,
                alignment = if (g[MlaLayerGene.ALIGN] == 1) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT,
                softcap = LayerTables.SOFTCAPS[g[MlaLayerGene.SOFTCAP]], scale = LayerTables.SCALES[g[MlaLayerGene.SCALE]].takeUnless { it.isNaN() },
                len = LayerTables.LENGTHS[g[MlaLayerGene.LEN]], keyPadding = g[MlaLayerGene.KEY_PAD] == 1,
                path = if (g[MlaLayerGene.PATH] == 1) PlanOptions.MlaPath.ABSORBED else PlanOptions.MlaPath.NAIVE,
                chunking = Chunking.entries[g[MlaLayerGene.CHUNKS]], dataSeed = g[MlaLayerGene.DATA].toLong(),
                cacheDtype = LayerTables.CACHE_STORAGE[g[MlaLayerGene.CACHE_DTYPE]],
            )
        }
    }
}
