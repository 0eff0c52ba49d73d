package org.attn4j.conformance.tck

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
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

    /** One probe: queries `x · wq` with every `wq` element [wq]; `forward` when [steps] is false, else `step` over `newCache(storage)`. */
    internal class Probe(val name: String, val wq: Double, val steps: Boolean, val storage: DType? = null)

    internal fun probes(): List<Probe> = listOf(
        Probe("scores -9.6e20 * scale (finite in float32), forward", -1e15, steps = false),
        Probe("scores -9.6e40 * scale after finite projections, forward", -1e35, steps = false),
        Probe("scores -9.6e40 * scale, step over newCache", -1e35, steps = true),
        Probe("scores -9.6e40 * scale, step over a float16 newCache", -1e35, steps = true, storage = DType.FLOAT16),
        Probe("scores -9.6e40 * scale, step over a bfloat16 newCache", -1e35, steps = true, storage = DType.BFLOAT16),
        Probe("scores -9.6e40 * scale, step over an int8 newCache", -1e35, steps = true, storage = DType.INT8),
    )

    /**
     * `x = 1`; `k = x · wk = 6e4` (exact in float16 and int8), `v = x · wv = [2, -2, 2, -2]` (exact in every storage
     * type), `wo` of `+-0.25` so that `y = 4`, not the 0 of an empty row.
     */
    private fun weights(wq: Double): StandardLayerWeights {
        val q = CONFIG.qHeads() * HEAD_DIM
        val kv = CONFIG.kvHeads() * HEAD_DIM
        fun w(rows: Int, cols: Int, f: (Int, Int) -> Double) =
            FloatTensor.of(FloatArray(rows * cols) { f(it / cols, it % cols).toFloat() }, rows, cols)
        return StandardLayerWeights(w(q, HIDDEN) { _, _ -> wq }, null, w(kv, HIDDEN) { _, _ -> 1.5e4 }, null,
            w(kv, HIDDEN) { e, _ -> if (e % 2 == 0) 0.5 else -0.5 }, null, w(HIDDEN, q) { _, j -> if (j % 2 == 0) 0.25 else -0.25 }, null)
    }

    fun check(): TckCheck = TckCheck(NAME, "a layer whose projections are finite but whose scores pass the float32 range " +
        "(wq = -1e35, every key alike), forward and step over float32, float16, bfloat16 and int8 caches, and a finite control: " +
        "the float64 reference's y or an AttentionException, never a row of zeros, NaN or Inf") { backend, config ->
        val declined = LinkedHashMap<String, Int>()
        var cases = 0
        for (probe in probes()) {
            cases++
            when (val o = PropertyRunner.guarded(config.caseTimeout) { judge(backend, probe) }) {
                is CaseOutcome.Ok -> {}
                is CaseOutcome.Declined -> o.reasons.forEach { declined.merge("${probe.name}: $it".take(300), 1, Int::plus) }
                is CaseOutcome.Bad -> return@TckCheck CheckResult.Failed(NAME, config.seed, config.seedFor(NAME), probe.name,
                    probe.name, 0, o.message, cases)
            }
        }
        if (declined.values.sum() == cases) CheckResult.Skipped(NAME, declined)
        else CheckResult.Passed(NAME, cases, declined, 0.0, emptySet())
    }

    /** Runs one probe; an AttentionException (from planning, the cache or the call) is a decline with its message. */
    internal fun judge(backend: AttentionBackend, probe: Probe): CaseOutcome {
        val support = backend.supportLayer(CONFIG)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val w = weights(probe.wq)
        val x = FloatTensor.of(FloatArray(BATCH * LEN * HIDDEN) { 1f }, BATCH, LEN, HIDDEN)
        val ref = REFERENCE.planLayer(CONFIG, w, PlanOptions(1, false, PlanOptions.MlaPath.NAIVE)).use { it.forward(x, null, null) }
        val y: Tensor = try {
            backend.planLayer(CONFIG, w, Runs.OPTIONS).use { plan ->
                if (!probe.steps) plan.forward(x, null, null)
                else {
                    val cache = if (probe.storage == null) plan.newCache(BATCH, LEN) else plan.newCache(BATCH, LEN, probe.storage)
                    val out = DoubleTensor.zeros(BATCH, LEN, HIDDEN)
                    // one token, then the other two: a decode step and a chunk
                    Tensors.copyInto(plan.step(x.slice(1, 0, 1), cache), out.slice(1, 0, 1))
                    Tensors.copyInto(plan.step(x.slice(1, 1, LEN - 1), cache), out.slice(1, 1, LEN - 1))
                    out
                }
            }
        } catch (e: AttentionException) {
            return CaseOutcome.Declined(listOf("AttentionException: ${e.message}"))
        }
        return RangeChecks.compare("y", y, ref) ?: CaseOutcome.Ok()
    }
}
