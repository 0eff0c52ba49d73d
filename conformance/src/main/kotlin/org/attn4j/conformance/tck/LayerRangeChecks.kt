package org.attn4j.conformance.tck

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerVariant
import org.attn4j.api.LayerWeights
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import org.attn4j.api.Window
import org.attn4j.reference.ReferenceBackend
import java.util.OptionalDouble

/**
 * `layer/input-range`: a layer whose projections are finite but whose attention scores are not (AttentionBackend,
 * "Numeric range"), through `forward` and through `step` over the layer's own caches, float32 and reduced. Each probe
 * must either match the float64 reference within FORMAT.md's tolerance or be refused with an [AttentionException]
 * (counted as declined). A row of zeros where the reference sees keys, NaN or an infinity fails.
 *
 * Every token is the same, so every key is the same and the reference's softmax is uniform: `y` is `wo · v`, a plain
 * number (4), whatever the scores. With `wq = -1e35` the float32 scores are `-9.6e40 * scale`, below the float32
 * range: a float32 kernel sees every score as `-inf`, a row that looks empty although it sees keys, and has to tell
 * that apart from a truly empty row by the magnitudes of its inputs — the keys as stored in the cache.
 *
 * The same probes run on an MLA layer, over both [PlanOptions.MlaPath]s: every latent is `32768` (exact in every
 * storage type), so the absorbed path scores `q W_UK` against the latents as stored — its overflow diagnosis reads the
 * float16/bfloat16/int8 latent cache itself — and the naive path against the decompressed keys.
 */
object LayerRangeChecks {
    const val NAME = "layer/input-range"
    val ALL: List<TckCheck> by lazy { listOf(check()) }

    private const val BATCH = 2
    private const val LEN = 3
    private const val HIDDEN = 4
    private const val HEAD_DIM = 4
    private val REFERENCE = ReferenceBackend()

    /** MQA, 2 query heads of width 4 over one KV head, causal. */
    private val CONFIG = StandardLayerConfig(LayerVariant.MQA, HIDDEN, 2, 1, HEAD_DIM, false, true, Alignment.BOTTOM_RIGHT,
        Window.NONE, 0.0, OptionalDouble.empty())

    /**
     * MLA, 2 heads, latent rank 4, nope 4, rope 2, v 4, causal. Queries `q_nope = 4 wq`, absorbed `q W_UK = 16 wq`, latents
     * 32768, decompressed keys 131072: scores `-2.1e21 * scale` at `wq = -1e15`, `-2.1e41 * scale` at `wq = -1e35`.
     */
    private val MLA = MlaLayerConfig(HIDDEN, 2, 0, 4, HEAD_DIM, 2, HEAD_DIM, 10000.0, false, 1e-6, 0, true,
        Alignment.BOTTOM_RIGHT, 0.0, OptionalDouble.empty())

    /**
     * One probe: queries `x · wq` with every `wq` element [wq]; `forward` when [steps] is false, else `step` over
     * `newCache(storage)` (one token, then the rest; all tokens in one chunk when [oneChunk], so that the cache is
     * full when attention runs: no row of it unwritten); the standard layer when [mlaPath] is null, else the MLA layer
     * planned with that path.
     */
    internal class Probe(val name: String, val wq: Double, val steps: Boolean, val storage: DType? = null,
                         val mlaPath: PlanOptions.MlaPath? = null, val oneChunk: Boolean = false, val wo: Double = 0.25) {
        val config: LayerConfig get() = if (mlaPath == null) CONFIG else MLA
        val options: PlanOptions get() = if (mlaPath == null) Runs.OPTIONS else Runs.OPTIONS.withMlaPath(mlaPath)
        fun weights(): LayerWeights = if (mlaPath == null) standardWeights(wq, wo) else mlaWeights(wq, wo)
    }

    private fun probesOf(layer: String, mlaPath: PlanOptions.MlaPath?): List<Probe> {
        val s = if (mlaPath == null) "9.6e20" else "2.1e21"
        val big = if (mlaPath == null) "9.6e40" else "2.1e41"
        return listOf(
            Probe("$layer: scores -$s * scale (finite in float32), forward", -1e15, steps = false, mlaPath = mlaPath),
            Probe("$layer: scores -$big * scale after finite projections, forward", -1e35, steps = false, mlaPath = mlaPath),
            Probe("$layer: scores -$big * scale, step over newCache", -1e35, steps = true, mlaPath = mlaPath),
            Probe("$layer: scores -$big * scale, step over a float16 newCache", -1e35, steps = true, storage = DType.FLOAT16, mlaPath = mlaPath),
            Probe("$layer: scores -$big * scale, step over a bfloat16 newCache", -1e35, steps = true, storage = DType.BFLOAT16, mlaPath = mlaPath),
            Probe("$layer: scores -$big * scale, step over an int8 newCache", -1e35, steps = true, storage = DType.INT8, mlaPath = mlaPath),
            // an int8 row never written has scale 0: a diagnosis that divides by the scale instead of multiplying
            // reads 0/0 = NaN there and refuses anyway; a cache written to its end leaves it no such row
            Probe("$layer: scores -$big * scale, one chunk filling an int8 newCache", -1e35, steps = true, storage = DType.INT8,
                mlaPath = mlaPath, oneChunk = true),
            // finite scores and attention, but y = w_o · v = 4e38 passes the float32 range only in the output projection
            Probe("$layer: finite attention, y = 4e38 (w_o = +-2.5e37), forward", -1e15, steps = false, mlaPath = mlaPath, wo = 2.5e37),
        )
    }

    internal fun probes(): List<Probe> = probesOf("MQA", null) +
        probesOf("MLA absorbed", PlanOptions.MlaPath.ABSORBED) + probesOf("MLA naive", PlanOptions.MlaPath.NAIVE)

    /**
     * `x = 1`; `k = x · wk = 6e4` (exact in float16 and int8), `v = x · wv = [2, -2, 2, -2]` (exact in every storage
     * type), `wo` of `+-0.25` so that `y = 4`, not the 0 of an empty row.
     */
    /** A float32 `[rows, cols]` weight whose element `(r, c)` is `f(r, c)`. */
    private fun w(rows: Int, cols: Int, f: (Int, Int) -> Double) =
        FloatTensor.of(FloatArray(rows * cols) { f(it / cols, it % cols).toFloat() }, rows, cols)

    private fun standardWeights(wq: Double, wo: Double): StandardLayerWeights {
        val q = CONFIG.qHeads() * HEAD_DIM
        val kv = CONFIG.kvHeads() * HEAD_DIM
        return StandardLayerWeights(w(q, HIDDEN) { _, _ -> wq }, null, w(kv, HIDDEN) { _, _ -> 1.5e4 }, null,
            w(kv, HIDDEN) { e, _ -> if (e % 2 == 0) 0.5 else -0.5 }, null, w(HIDDEN, q) { _, j -> if (j % 2 == 0) wo else -wo }, null)
    }

    /**
     * `x = 1`: the raw latent `x · w_kv_a` is 4 everywhere, RMS-normed to 1 and scaled by `kv_a_norm = 32768`; `k_pe` and
     * `q_pe` are 0 (their weight rows are 0), so every key is alike. `W_UK = 1`; `W_UV = +-2^-16` gives `v = [2, -2, 2, -2]`
     * per head and `w_o` of `+-0.25` gives `y = 4`.
     */
    private fun mlaWeights(wq: Double, wo: Double): MlaLayerWeights {
        val qk = MLA.qkHeadDim()
        val lat = MLA.kvLoraRank()
        val perHead = MLA.qkNopeHeadDim() + MLA.vHeadDim()
        val wQ = w(MLA.qHeads() * qk, HIDDEN) { r, _ -> if (r % qk < MLA.qkNopeHeadDim()) wq else 0.0 }
        val wKvA = w(lat + MLA.qkRopeHeadDim(), HIDDEN) { r, _ -> if (r < lat) 1.0 else 0.0 }
        val kvANorm = FloatTensor.of(FloatArray(lat) { 32768f }, lat)
        val wKvB = w(MLA.qHeads() * perHead, lat) { r, _ ->
            val m = r % perHead
            if (m < MLA.qkNopeHeadDim()) 1.0 else if ((m - MLA.qkNopeHeadDim()) % 2 == 0) 1.0 / 65536 else -1.0 / 65536
        }
        val wO = w(HIDDEN, MLA.qHeads() * MLA.vHeadDim()) { _, j -> if (j % 2 == 0) wo else -wo }
        return MlaLayerWeights(wQ, null, null, null, wKvA, kvANorm, wKvB, wO)
    }

    fun check(): TckCheck = TckCheck(NAME, "a layer whose projections are finite but whose scores pass the float32 range " +
        "(wq = -1e35, every key alike), forward and step over float32, float16, bfloat16 and int8 caches, and a finite control, " +
        "on an MQA layer and on an MLA layer over both paths: " +
        "the float64 reference's y or an AttentionException, never a row of zeros, NaN or Inf") { backend, config ->
        RangeChecks.runProbes(NAME, config, probes().map { probe -> probe.name to { judge(backend, probe) } })
    }

    private fun input(): FloatTensor = FloatTensor.of(FloatArray(BATCH * LEN * HIDDEN) { 1f }, BATCH, LEN, HIDDEN)

    /** The float64 reference's `y` for [probe] (by construction `16 * wo` everywhere: 4 at the default `wo = 0.25`). */
    internal fun reference(probe: Probe): Tensor {
        return REFERENCE.planLayer(probe.config, probe.weights(), PlanOptions(1, false, PlanOptions.MlaPath.NAIVE))
            .use { it.forward(input(), null, null) }
    }

    /** Runs one probe; an AttentionException (from planning, the cache or the call) is a decline with its message. */
    internal fun judge(backend: AttentionBackend, probe: Probe): CaseOutcome {
        val support = backend.supportLayer(probe.config)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val x = input()
        val ref = reference(probe)
        val y: Tensor = try {
            backend.planLayer(probe.config, probe.weights(), probe.options).use { plan ->
                if (!probe.steps) plan.forward(x, null, null)
                else {
                    val cache = if (probe.storage == null) plan.newCache(BATCH, LEN) else plan.newCache(BATCH, LEN, probe.storage)
                    val out = DoubleTensor.zeros(BATCH, LEN, HIDDEN)
                    // a refused step leaves the cache as it found it (AttentionBackend): its lengths are checked
                    fun step(from: Int, n: Int) {
                        val before = cache.lengths()
                        try {
                            Tensors.copyInto(plan.step(x.slice(1, from, n), cache), out.slice(1, from, n))
                        } catch (e: AttentionException) {
                            if (!cache.lengths().contentEquals(before)) {
                                throw ContractViolation("a refused step left the cache at lengths ${cache.lengths().toList()}, " +
                                    "not ${before.toList()} (${e.message})")
                            }
                            throw e
                        }
                    }
                    if (probe.oneChunk) step(0, LEN)
                    else {
                        // one token, then the other two: a decode step and a chunk
                        step(0, 1)
                        step(1, LEN - 1)
                    }
                    out
                }
            }
        } catch (e: AttentionException) {
            return CaseOutcome.Declined(listOf("AttentionException: ${e.message}"))
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        return RangeChecks.compare("y", y, ref) ?: CaseOutcome.Ok()
    }
}
