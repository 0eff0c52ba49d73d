package org.attn4j.conformance.tck

import io.kotest.property.Arb
import io.kotest.property.arbitrary.map
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.Window

/** The genes of a [KernelCase] (one attention kernel call). Each one's simplest value (the shrink target) is listed first in its domain. */
enum class KernelGene {
    BATCH, HEADS, HEAD_DIM, V_DIM, Q_LEN, KV_LEN, SCALE, CAUSAL, ALIGN, WINDOW, WIN_LEFT, WIN_RIGHT, SOFTCAP,
    BIAS, BIAS_AMP, MASK, MASK_FILL, ALIBI, SINKS, KV_LENS, SCORE_MAG, V_MAG, LAYOUT, DATA,
    /** How K and V are stored ([KernelGenes.KV_STORAGE]); last, and fixed to float32 unless a profile frees it. */
    KV_DTYPE,
    /** How Q is stored ([KernelGenes.Q_STORAGE]). */
    Q_DTYPE,
}

/**
 * Generators of [KernelCase]s. A check names a *profile* (which genes it forces or frees); [arb] turns it into an
 * `Arb<KernelCase>` that shrinks toward `B = 1`, one KV head, `q_len = 1`, small `head_dim` and no options,
 * while staying inside the profile.
 *
 * Sizes include 0, 1, tile and vector edges ±1 and, rarely, long sequences; every `(q_heads, kv_heads)` divisor
 * pair up to 32 (MHA, MQA, GQA of every group count, primes); head dims 1..256 with primes and non-multiples of
 * 8 and 16. A case whose `B*Hq*Lq*Lk*(D+Dv)` exceeds the cap is made smaller (batch first, then the longer sequence
 * halved), so the cost per case stays bounded whatever the genes say.
 */
object KernelGenes {
    /** Every `(qHeads, kvHeads)` with `kvHeads | qHeads`, `qHeads <= 32`, ordered by `qHeads` then `kvHeads`. */
    val HEAD_PAIRS: List<Pair<Int, Int>> = (1..32).flatMap { q -> (1..q).filter { q % it == 0 }.map { q to it } }

    val HEAD_DIMS = intArrayOf(
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 23, 24, 29, 31, 32, 33, 37, 40, 47, 48, 63, 64, 65,
        72, 79, 80, 96, 97, 113, 127, 128, 129, 160, 191, 192, 193, 224, 251, 255, 256,
    )

    /** Sequence lengths; 1 first (the shrink target), then 0, small ones, tile/vector edges ±1, long ones. */
    val LENGTHS = intArrayOf(1, 0, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 513, 1023, 1025)
    val SCALES = doubleArrayOf(Double.NaN, 1.0, 0.5, 0.125, 0.01, 2.0, 0.3)   // NaN = default 1/sqrt(D)
    val SOFTCAPS = doubleArrayOf(0.0, 1.0, 5.0, 20.0, 50.0)
    val WINDOW_SIZES = intArrayOf(0, 1, 2, 3, 5, 8, 16, 31, 64)
    val BIAS_AMPS = doubleArrayOf(1.0, 5.0, 0.1, 30.0)
    val SCORE_MAGS = doubleArrayOf(1.0, 1e-3, 0.1, 5.0, 30.0, 300.0, 1e4)
    val VALUE_MAGS = doubleArrayOf(1.0, 1e-3, 1e3)

    /** Storage types of K and V: float32 (the shrink target) and the reduced ones of `Quantization`. */
    val KV_STORAGE = listOf(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.INT8)

    /** Storage types of Q: int8 is a KV-cache format (a scale per token and head), not one for queries. */
    val Q_STORAGE = listOf(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16)

    /** Heads pairs with fewer KV heads than query heads (MQA and GQA). */
    val GROUPED: IntArray = HEAD_PAIRS.indices.filter { HEAD_PAIRS[it].second < HEAD_PAIRS[it].first }.toIntArray()

    /** Heads pairs with `1 < kvHeads < qHeads`: GQA proper, where `h / group` and `h % kvHeads` differ. */
    val GQA_PROPER: IntArray = HEAD_PAIRS.indices.filter { HEAD_PAIRS[it].second in 2 until HEAD_PAIRS[it].first }.toIntArray()

    /** Index of the option value meaning "off" for every option gene. */
    private const val OFF = 0

    /** An option gene that is on with probability [pOn], spread evenly over its [n] - 1 "on" values. */
    fun sometimes(n: Int, pOn: Double): Domain.Values = GenePool.indices(n) { if (it == OFF) 1 - pOn else pOn / (n - 1) }

    /** An option gene that is always on (any of its non-off values). */
    fun on(n: Int): Domain.Values = Domain.Values(IntArray(n - 1) { it + 1 })

    /** Head pairs from [indices], small head counts drawn more often. */
    fun heads(indices: IntArray): Domain.Values =
        Domain.Values(indices, DoubleArray(indices.size) { if (HEAD_PAIRS[indices[it]].first <= 8) 3.0 else 1.0 })

    /** Gene counts per option (including "off"). */
    private fun options(g: KernelGene): Int = when (g) {
        KernelGene.SCALE -> SCALES.size
        KernelGene.CAUSAL, KernelGene.ALIGN, KernelGene.ALIBI, KernelGene.SINKS -> 2
        KernelGene.WINDOW -> 4
        KernelGene.SOFTCAP -> SOFTCAPS.size
        KernelGene.BIAS, KernelGene.MASK -> Broadcast.ALL.size + 1
        KernelGene.KV_LENS -> KvLensMode.entries.size
        KernelGene.LAYOUT -> Layout.entries.size
        else -> error("$g is not an option gene")
    }

    /** The option genes: off unless a profile turns them on. */
    val OPTION_GENES = listOf(
        KernelGene.SCALE, KernelGene.CAUSAL, KernelGene.ALIGN, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.BIAS,
        KernelGene.MASK, KernelGene.ALIBI, KernelGene.SINKS, KernelGene.KV_LENS, KernelGene.LAYOUT,
    )

    /** The domain of [g] when a profile does not say otherwise: sizes free, options off. */
    fun default(g: KernelGene): Domain = when (g) {
        KernelGene.BATCH -> Domain.Values(intArrayOf(0, 1, 2, 3), doubleArrayOf(4.0, 3.0, 1.5, 1.5))   // batch - 1
        KernelGene.HEADS -> heads(HEAD_PAIRS.indices.toList().toIntArray())
        KernelGene.HEAD_DIM -> GenePool.indices(HEAD_DIMS.size)
        KernelGene.V_DIM -> GenePool.indices(HEAD_DIMS.size + 1) { if (it == 0) 3.0 * HEAD_DIMS.size else 1.0 }  // 0 = same as D
        KernelGene.Q_LEN, KernelGene.KV_LEN -> GenePool.indices(LENGTHS.size) { lengthWeight(LENGTHS[it]) }
        KernelGene.WIN_LEFT, KernelGene.WIN_RIGHT -> GenePool.indices(WINDOW_SIZES.size)
        KernelGene.BIAS_AMP -> GenePool.indices(BIAS_AMPS.size)
        KernelGene.MASK_FILL -> GenePool.indices(MaskFill.entries.size) { if (it == MaskFill.ALL_FALSE.ordinal) 0.3 else 1.0 }
        KernelGene.SCORE_MAG -> GenePool.indices(SCORE_MAGS.size) { if (it == 0) 3.0 else 1.0 }
        KernelGene.V_MAG -> GenePool.indices(VALUE_MAGS.size) { if (it == 0) 4.0 else 1.0 }
        KernelGene.DATA -> Domain.Range(Int.MAX_VALUE - 1)
        KernelGene.KV_DTYPE, KernelGene.Q_DTYPE -> Domain.Fixed(0)          // float32
        else -> GenePool.only(OFF)
    }

    private fun lengthWeight(len: Int): Double = when {
        len == 0 -> 3.0
        len == 1 -> 10.0
        len <= 33 -> 5.0
        len <= 65 -> 3.0
        len <= 257 -> 1.2
        else -> 0.5
    }

    /** A profile where every option gene is on with probability [pOn] (the "everything at once" profile). */
    fun everything(pOn: Double = 0.3): Map<KernelGene, Domain> = OPTION_GENES.associateWith { sometimes(options(it), pOn) }

    /** `profile` with [genes] always on. */
    fun force(vararg genes: KernelGene): Map<KernelGene, Domain> = genes.associateWith { on(options(it)) }

    /** `profile` with [genes] on with probability [pOn]. */
    fun maybe(pOn: Double, vararg genes: KernelGene): Map<KernelGene, Domain> = genes.associateWith { sometimes(options(it), pOn) }

    fun pool(profile: Map<KernelGene, Domain>): GenePool = GenePool.of(KernelGene.entries.toTypedArray(), ::default, profile)

    /** Cases of [profile], at most [maxCost] multiply-adds each. */
    fun arb(profile: Map<KernelGene, Domain>, maxCost: Long): Arb<KernelCase> = pool(profile).arb().map { decode(it, maxCost) }

    /**
     * [profile] restricted to the gene values [backend] supports, for the contract checks (bad input, shared plans,
     * metamorphic relations), which test the backend's plumbing rather than one feature: a narrow backend must still
     * run enough of their cases. From a supported base genome (the simplest one, else the first supported of a few
     * random draws) each gene's values are probed one at a time through `support()`; a gene keeps the values supported
     * there, or all of them if none is (the check then reports the backend's reasons). A backend that supports
     * everything gets [profile] back unchanged, so its cases do not change. Interactions between genes are left to
     * [PropertyRunner.run]'s resampling.
     */
    fun narrowed(backend: AttentionBackend, profile: Map<KernelGene, Domain>, maxCost: Long, seed: Long): Map<KernelGene, Domain> {
        val pool = pool(profile)
        fun supported(values: IntArray): Boolean = try {
            backend.support(decode(Genome(pool, values), maxCost).problem).isSupported
        } catch (e: RuntimeException) {
            false
        }
        val random = kotlin.random.Random(seed)
        val base = (sequenceOf(pool.simplest().values) + generateSequence { IntArray(pool.genes.size) { pool.domains[it].sample(random) } }.take(200))
            .firstOrNull(::supported) ?: return profile
        val out = LinkedHashMap(profile)
        for ((i, gene) in pool.genes.withIndex()) {
            val d = pool.domains[i] as? Domain.Values ?: continue
            if (d.values.size == 1) continue
            val keep = d.values.indices.filter { v -> supported(base.clone().also { it[i] = d.values[v] }) }
            if (keep.isEmpty() || keep.size == d.values.size) continue
            val weights = d.weights?.let { w -> DoubleArray(keep.size) { w[keep[it]] } }?.takeIf { it.sum() > 0 }
            @Suppress("UNCHECKED_CAST")
            out[gene as KernelGene] = Domain.Values(IntArray(keep.size) { d.values[keep[it]] }, weights)
        }
        return out
    }

    /** The case a genome describes, made small enough for [maxCost]. */
    fun decode(g: Genome, maxCost: Long): KernelCase {
        var batch = 1 + g[KernelGene.BATCH]
        val (qHeads, kvHeads) = HEAD_PAIRS[g[KernelGene.HEADS]]
        val d = HEAD_DIMS[g[KernelGene.HEAD_DIM]]
        val dv = if (g[KernelGene.V_DIM] == 0) d else HEAD_DIMS[g[KernelGene.V_DIM] - 1]
        var qLen = LENGTHS[g[KernelGene.Q_LEN]]
        var kvLen = LENGTHS[g[KernelGene.KV_LEN]]
        while (KernelCase.cost(batch, qHeads, qLen, kvLen, d, dv) > maxCost) {
            when {
                batch > 1 -> batch--
                qLen >= kvLen && qLen > 1 -> qLen = (qLen + 1) / 2
                kvLen > 1 -> kvLen = (kvLen + 1) / 2
                else -> break
            }
        }
        val left = WINDOW_SIZES[g[KernelGene.WIN_LEFT]]
        val right = WINDOW_SIZES[g[KernelGene.WIN_RIGHT]]
        val window = when (g[KernelGene.WINDOW]) {
            1 -> Window(left, -1)
            2 -> Window(-1, right)
            3 -> Window(left, right)
            else -> Window.NONE
        }
        val scale = SCALES[g[KernelGene.SCALE]].takeUnless { it.isNaN() }
        return KernelCase(
            batch = batch, qHeads = qHeads, kvHeads = kvHeads, headDim = d, vHeadDim = dv, qLen = qLen, kvLen = kvLen,
            scale = scale, causal = g[KernelGene.CAUSAL] == 1, alignment = if (g[KernelGene.ALIGN] == 1) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT,
            window = window, softcap = SOFTCAPS[g[KernelGene.SOFTCAP]],
            bias = if (g[KernelGene.BIAS] == 0) null else Broadcast.ALL[g[KernelGene.BIAS] - 1], biasAmplitude = BIAS_AMPS[g[KernelGene.BIAS_AMP]],
            mask = if (g[KernelGene.MASK] == 0) null else Broadcast.ALL[g[KernelGene.MASK] - 1], maskFill = MaskFill.entries[g[KernelGene.MASK_FILL]],
            alibi = g[KernelGene.ALIBI] == 1, sinks = g[KernelGene.SINKS] == 1, kvLens = KvLensMode.entries[g[KernelGene.KV_LENS]],
            scoreMagnitude = SCORE_MAGS[g[KernelGene.SCORE_MAG]], valueMagnitude = VALUE_MAGS[g[KernelGene.V_MAG]],
            layout = Layout.entries[g[KernelGene.LAYOUT]], dataSeed = g[KernelGene.DATA].toLong(),
            kvDtype = KV_STORAGE[g[KernelGene.KV_DTYPE]], qDtype = Q_STORAGE[g[KernelGene.Q_DTYPE]],
        )
    }
}
