package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import java.util.SplittableRandom
import kotlin.math.abs

/**
 * `kernel/input-range`: extreme but finite magnitudes (AttentionBackend, "Numeric range"). Each fixed case must either
 * match the float64 reference within FORMAT.md's tolerance (`|a - r| <= 1e-5 + 1e-4 |r|`, equal infinities match,
 * NaN never) or be refused with an [AttentionException] (counted as declined, with its message). NaN, an infinity or
 * a wrong finite value (an empty row of 0 where the reference sees keys) where the reference is finite fails.
 *
 * FORMAT.md's tolerance, not the TCK's accuracy rule, is the bar here: the rule's score-conditioning term grows with
 * the scores and would let any finite answer pass for scores of 1e40. The cases are built so that a correct float32
 * computation meets it (scores that are equal, saturated, or far apart).
 */
object RangeChecks {
    const val NAME = "kernel/input-range"
    private const val ATOL = 1e-5
    private const val RTOL = 1e-4

    /** One probe: a name and the inputs; the spec is shared. */
    internal class Probe(val name: String, val spec: AttentionSpec, val inputs: AttentionInputs, val decode: Boolean = false)

    fun check(): TckCheck = TckCheck(NAME, "extreme finite magnitudes (q=k=1e20, v=+-3e38, float64 1e200, 1e-30, mixed rows, " +
        "softcap, bias, a cache of 3e38 values, an overflow in the last row of a later sequence only): the float64 reference's answer or an AttentionException, never NaN/Inf") { backend, config ->
        runProbes(NAME, config, probes().map { probe -> probe.name to { judge(backend, probe) } })
    }

    /**
     * Runs fixed probes in order, each under the case timeout: the first bad one fails the check; a refused probe is a
     * decline (counted once, its reasons joined), not a case run; no probe answered is a skip.
     */
    internal fun runProbes(name: String, config: TckConfig, probes: List<Pair<String, () -> CaseOutcome>>): CheckResult {
        val declined = LinkedHashMap<String, Int>()
        var run = 0
        for ((i, probe) in probes.withIndex()) {
            val (what, judge) = probe
            when (val o = PropertyRunner.guarded(config.caseTimeout, judge)) {
                is CaseOutcome.Ok -> run++
                is CaseOutcome.Declined -> declined.merge("$what: ${o.reasons.joinToString("; ")}".take(300), 1, Int::plus)
                is CaseOutcome.Bad -> return CheckResult.Failed(name, config.seed, config.seedFor(name), what, what, 0, o.message, i + 1)
            }
        }
        return if (run == 0) CheckResult.Skipped(name, declined) else CheckResult.Passed(name, run, declined, 0.0, emptySet())
    }

    private fun filled(value: Double, vararg shape: Int): Tensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { value.toFloat() }, *shape)

    private fun filled64(value: Double, vararg shape: Int): Tensor =
        DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { value }, *shape)

    private fun randn(rnd: SplittableRandom, scale: Double, vararg shape: Int): Tensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { ((rnd.nextDouble() * 2 - 1) * scale).toFloat() }, *shape)

    private fun float64(t: Tensor): Tensor = DoubleTensor.copyOf(t)

    /** Row-major [B, H, L, D] with element (h, l, d) given by [f]. */
    private fun tensor(h: Int, l: Int, d: Int, f: (Int, Int, Int) -> Double): Tensor =
        FloatTensor.of(FloatArray(h * l * d) { f(it / (l * d), it / d % l, it % d).toFloat() }, 1, h, l, d)

    internal fun probes(): List<Probe> {
        val rnd = SplittableRandom(20240611)
        val hq = 2; val lq = 3; val lk = 5; val d = 8
        val spec = AttentionSpec.builder(hq, 1, d).build()
        val q = randn(rnd, 1.0, 1, hq, lq, d)
        val k = randn(rnd, 1.0, 1, 1, lk, d)
        val v = randn(rnd, 1.0, 1, 1, lk, d)
        val plusMinus = tensor(1, lk, d) { _, _, e -> if (e % 2 == 0) 3e38 else -3e38 }
        // row 0 of each head huge (1e15: one key wins by far), row 1 tiny (1e-15: uniform), row 2 ordinary
        val mixedQ = tensor(hq, lq, d) { _, i, _ -> when (i) { 0 -> 1e15; 1 -> 1e-15; else -> 0.5 } }
        val rankedK = tensor(1, lk, d) { _, j, _ -> (j + 1).toDouble() }
        return listOf(
            Probe("q = k = 1e20 (scores 1e40)", spec, AttentionInputs.of(filled(1e20, 1, hq, lq, d), filled(1e20, 1, 1, lk, d), v)),
            Probe("q = 1e20, k = -1e20 (scores -1e40)", spec, AttentionInputs.of(filled(1e20, 1, hq, lq, d), filled(-1e20, 1, 1, lk, d), v)),
            Probe("v = +-3e38", spec, AttentionInputs.of(q, k, plusMinus)),
            Probe("float64 q = k = 1e100", spec, AttentionInputs.of(filled64(1e100, 1, hq, lq, d), filled64(1e100, 1, 1, lk, d), float64(v))),
            Probe("float64 v = 1e200", spec, AttentionInputs.of(float64(q), float64(k), filled64(1e200, 1, 1, lk, d))),
            Probe("float64 bias = 1e200 on key 0", spec, AttentionInputs.of(float64(q), float64(k), float64(v))
                .withBias(DoubleTensor.of(DoubleArray(lk) { if (it == 0) 1e200 else 0.0 }, lk))),
            Probe("tiny q, k, v = 1e-30", spec, AttentionInputs.of(filled(1e-30, 1, hq, lq, d), filled(1e-30, 1, 1, lk, d), filled(1e-30, 1, 1, lk, d))),
            Probe("mixed rows: q 1e15 / 1e-15 / 0.5", spec, AttentionInputs.of(mixedQ, rankedK, v)),
            Probe("softcap 30 over scores 1e40", AttentionSpec.builder(hq, 1, d).softcap(30.0).build(),
                AttentionInputs.of(filled(1e20, 1, hq, lq, d), filled(1e20, 1, 1, lk, d), v)),
            Probe("softcap 30 over scores 1e20", AttentionSpec.builder(hq, 1, d).softcap(30.0).build(),
                AttentionInputs.of(filled(1e10, 1, hq, lq, d), filled(1e10, 1, 1, lk, d), v)),
            Probe("bias 1e30 on key 0", spec, AttentionInputs.of(q, k, v).withBias(FloatTensor.of(FloatArray(lk) { if (it == 0) 1e30f else 0f }, lk))),
            Probe("bias -3e38 on scores -7e37 (sums -3.7e38)", spec, AttentionInputs.of(filled(5e18, 1, hq, lq, d), filled(-5e18, 1, 1, lk, d), v)
                .withBias(FloatTensor.of(FloatArray(lk) { -3e38f }, lk))),
            Probe("decode over a cache of +-3e38 values", spec, AttentionInputs.of(q, k, plusMinus), decode = true),
            lastRowOverflows(rnd, spec, hq, lq, lk, d),
        )
    }

    /**
     * Two sequences; the second one's values are all 3e38, so the reference answers 3e38 wherever a row sees keys. Every
     * row of sequence 1 but one has a single dominant key (a float32 sum stays at 3e38); the last query of the last head
     * has equal scores, so its float32 sum of five 3e38 terms overflows. A backend that checks its result for overflow
     * must look at every batch, head and query, not just the first.
     */
    private fun lastRowOverflows(rnd: SplittableRandom, spec: AttentionSpec, hq: Int, lq: Int, lk: Int, d: Int): Probe {
        fun tensor4(b: Int, h: Int, l: Int, f: (Int, Int, Int, Int) -> Double): Tensor =
            FloatTensor.of(FloatArray(b * h * l * d) { f(it / (h * l * d), it / (l * d) % h, it / d % l, it % d).toFloat() }, b, h, l, d)
        val q = tensor4(2, hq, lq) { b, h, i, _ ->
            when {
                b == 0 -> rnd.nextDouble() * 2 - 1
                h == hq - 1 && i == lq - 1 -> 0.0  // equal scores: the only row whose float32 sum overflows
                else -> 10.0                      // key lk-1 wins by a score gap of about 28
            }
        }
        val k = tensor4(2, 1, lk) { b, _, j, _ -> if (b == 0) rnd.nextDouble() * 2 - 1 else (j + 1).toDouble() }
        val v = tensor4(2, 1, lk) { b, _, _, _ -> if (b == 0) rnd.nextDouble() * 2 - 1 else 3e38 }
        return Probe("v = 3e38 in sequence 1 only, equal scores only in its last head's last query", spec, AttentionInputs.of(q, k, v))
    }

    /** Runs one probe; an AttentionException is a decline with its message. */
    internal fun judge(backend: AttentionBackend, probe: Probe): CaseOutcome {
        val problem = probe.inputs.validate(probe.spec)
        val support = backend.support(problem)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val ref = ReferenceAttention.attend(probe.spec, probe.inputs)
        val got: AttentionOutput = try {
            backend.plan(problem, Runs.OPTIONS).use { plan ->
                if (!probe.decode) plan.run(probe.inputs)
                else {
                    val i = probe.inputs
                    val cache = backend.newKvCache(i.batch(), probe.spec.kvHeads(), i.kvLen(), probe.spec.headDim(), probe.spec.vHeadDim())
                    cache.append(i.k(), i.v())
                    plan.decode(i.q(), cache)
                }
            }
        } catch (e: AttentionException) {
            return CaseOutcome.Declined(listOf("AttentionException: ${e.message}"))
        }
        return compare("out", got.out(), ref.out()) ?: got.lse()?.let { compare("lse", it, ref.lse()) } ?: CaseOutcome.Ok()
    }

    /** FORMAT.md's element-wise rule; null when every element meets it. */
    internal fun compare(name: String, actual: Tensor, ref: Tensor): CaseOutcome.Bad? {
        if (!actual.shape().contentEquals(ref.shape())) {
            return CaseOutcome.Bad("$name.shape: expected ${ref.shape().contentToString()}, got ${actual.shape().contentToString()}")
        }
        val a = actual.toDoubleArray()
        val r = ref.toDoubleArray()
        for (i in r.indices) {
            val ok = if (r[i].isInfinite() || a[i].isInfinite()) a[i] == r[i] else abs(a[i] - r[i]) <= ATOL + RTOL * abs(r[i])
            if (!ok) {
                return CaseOutcome.Bad("$name${Accuracy.index(ref, i)}: expected ${r[i]} (float64 reference), got ${a[i]}, " +
                    "with no AttentionException: a silently wrong answer at the edge of the backend's range")
            }
        }
        return null
    }
}
