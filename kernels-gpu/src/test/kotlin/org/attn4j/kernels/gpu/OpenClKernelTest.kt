package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.matchers.ints.shouldBeGreaterThanOrEqual
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.nulls.shouldBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.PlanOptions
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import kotlin.math.ln
import kotlin.random.Random

/** The attention kernels against the float64 reference: head widths, head groupings, lengths, every feature. */
class OpenClKernelTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val plans by lazy { PlanCache(Gpu.require()) }
    afterSpec { plans.close() }

    "head_dim 1..256 (incl. 7, 65, 129) x heads 4/4, 6/2, 8/1" {
        var seed = 100L
        for (d in listOf(1, 7, 64, 65, 128, 129, 256)) {
            for ((hq, hkv) in listOf(4 to 4, 6 to 2, 8 to 1)) {
                val r = Random(seed)
                val lq = listOf(1, 5, 33).random(r)
                val lk = listOf(1, 17, 65).random(r)
                plans.check(Problem.random(seed++, hq, hkv, d, 1 + r.nextInt(2), lq, lk, allFeatures = false))
            }
        }
    }

    "lengths 0, 1 and the device's tile edges +-1, both alignments, causal or not" {
        val gpu = Gpu.require()
        // The tiles this device uses for these widths (they come from its local memory size), so the edges are real.
        val ks = KernelSet(gpu.contextForTests(), RealType.FLOAT32)
        val d = 16
        try {
            var seed = 1000L
            for ((hq, hkv) in listOf(4 to 4, 6 to 2, 8 to 1)) {
                val g = hq / hkv
                val tq = ks.tiles(1 shl 20, d, d)[0]          // rows per tile for long query runs
                val rowEdge = tq / g                              // query counts around one row tile
                val qLens = listOf(0, 1, rowEdge - 1, rowEdge, rowEdge + 1, 2 * rowEdge + 1).filter { it >= 0 }.distinct()
                for (lq in qLens) {
                    val tk = ks.tiles(maxOf(1, g * lq), d, d)[1]
                    val kLens = listOf(0, 1, tk - 1, tk, tk + 1, 2 * tk + 1).distinct()
                    for (lk in kLens) {
                        val r = Random(seed)
                        val spec = AttentionSpec.builder(hq, hkv, d).causal(r.nextBoolean())
                            .alignment(if (r.nextBoolean()) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT).build()
                        plans.check(Problem(spec, 2, lq, lk, kvLens = r.nextBoolean(), seed = seed++))
                    }
                }
            }
        } finally {
            ks.close()
        }
    }

    "every feature, random combinations (bias and mask broadcasts, ALiBi, sinks, kv_lens, windows, softcap, scale)" {
        val r = Random(7)
        val seen = HashMap<String, Int>()
        repeat(120) { n ->
            val (hq, hkv) = listOf(4 to 4, 6 to 2, 8 to 1, 3 to 1, 2 to 2).random(r)
            val d = listOf(1, 3, 8, 16, 33).random(r)
            val p = Problem.random(5000L + n, hq, hkv, d, 1 + r.nextInt(3), r.nextInt(0, 40), r.nextInt(0, 70))
            plans.check(p)
            val s = p.spec
            mapOf("bias" to (p.biasShape != null), "mask" to (p.maskShape != null), "alibi" to p.alibi, "sinks" to p.sinks,
                "kvLens" to p.kvLens, "window" to s.hasWindow(), "softcap" to s.hasSoftcap(), "scale" to s.scale().isPresent,
                "causal" to s.causal(), "topLeft" to (s.alignment() == Alignment.TOP_LEFT), "vHeadDim" to (s.vHeadDim() != s.headDim()),
                "empty" to (p.qLen == 0 || p.kvLen == 0)).forEach { (k, v) -> if (v) seen.merge(k, 1, Int::plus) }
        }
        // every feature was really exercised, several times
        for (f in listOf("bias", "mask", "alibi", "sinks", "kvLens", "window", "softcap", "scale", "causal", "topLeft", "vHeadDim", "empty")) {
            withClue("feature $f in $seen") { (seen[f] ?: 0) shouldBeGreaterThanOrEqual 3 }
        }
    }

    "split-KV decode with the LSE merge: forced splits and the device's own choice" {
        val r = Random(11)
        var seed = 9000L
        for (lk in listOf(1, 50, 200, 333)) {
            for (splits in listOf(0, 1, 2, 3, 7, 64)) {
                val (hq, hkv) = listOf(4 to 4, 6 to 2, 8 to 1).random(r)
                val base = Problem.random(seed++, hq, hkv, listOf(7, 64).random(r), 1 + r.nextInt(2), listOf(1, 2, 4).random(r), lk)
                plans.check(base, splits)
                // sinks, kv_lens (one sequence empty) and a window through the merge as well
                val spec = base.spec.toBuilder().causal().alignment(Alignment.BOTTOM_RIGHT).window(30, -1).build()
                plans.check(base.copy(spec = spec, batch = 2, sinks = true, kvLens = true), splits)
            }
        }
    }

    "float64 inputs take the double path and meet 1e-9" {
        val r = Random(3)
        repeat(30) { n ->
            val (hq, hkv) = listOf(4 to 4, 6 to 2, 8 to 1).random(r)
            val d = listOf(1, 7, 64, 129).random(r)
            val p = Problem.random(7000L + n, hq, hkv, d, 1 + r.nextInt(2), r.nextInt(0, 35), r.nextInt(0, 80))
            val out = plans.check(p, splits = if (n % 3 == 0) 3 else 0, f64 = true)
            out.out().dtype() shouldBe DType.FLOAT64
        }
    }

    "scores up to +-1e4 stay finite and accurate" {
        repeat(4) { n ->
            val spec = AttentionSpec.builder(6, 2, 32).scale(1.0).causal(n % 2 == 0).build()
            val p = Problem(spec, 1, 9, 40, sinks = n == 3, magnitude = 40.0, seed = 8000L + n)
            val inputs = p.inputs()
            // the largest |score| really is of order 1e4 (computed here from first principles)
            val q = inputs.q().toDoubleArray(); val k = inputs.k().toDoubleArray()
            var top = 0.0
            for (h in 0 until 6) for (i in 0 until 9) for (j in 0 until 40) {
                var dot = 0.0
                for (c in 0 until 32) dot += q[(h * 9 + i) * 32 + c] * k[((h / 3) * 40 + j) * 32 + c]
                top = maxOf(top, kotlin.math.abs(dot))
            }
            (top > 5e3) shouldBe true
            plans.check(p)
        }
    }

    "hand-worked: two keys, a sink, an empty row" {
        // q = [1], k = [0, ln 3], scale 1: weights 1 : 3, so out = (1*4 + 3*8) / 4 = 7 and lse = ln 4.
        val spec = AttentionSpec.builder(1, 1, 1).scale(1.0).build()
        val q = FloatTensor.of(floatArrayOf(1f, 1f), 2, 1, 1, 1)
        val k = FloatTensor.of(floatArrayOf(0f, ln(3.0).toFloat(), 0f, ln(3.0).toFloat()), 2, 1, 2, 1)
        val v = FloatTensor.of(floatArrayOf(4f, 8f, 4f, 8f), 2, 1, 2, 1)
        val plan = plans.plan(spec)
        val o = plan.run(AttentionInputs.of(q, k, v).withKvLens(2, 0))
        (o.out() as FloatTensor).get(0, 0, 0, 0).toDouble() shouldBe (7.0 plusOrMinus 1e-5)
        (o.lse() as FloatTensor).get(0, 0, 0).toDouble() shouldBe (ln(4.0) plusOrMinus 1e-6)
        // sequence 1 sees no key: out 0, lse -inf
        (o.out() as FloatTensor).get(1, 0, 0, 0) shouldBe 0f
        (o.lse() as FloatTensor).get(1, 0, 0) shouldBe Float.NEGATIVE_INFINITY
        // A sink of logit ln 4 adds 4 to the denominator 1 + 3: out = 28 / 8 = 3.5, lse = ln 8; the empty row gets lse = ln 4.
        val sink = FloatTensor.of(floatArrayOf(ln(4.0).toFloat()), 1)
        val s = plan.run(AttentionInputs.of(q, k, v).withKvLens(2, 0).withSinks(sink))
        (s.out() as FloatTensor).get(0, 0, 0, 0).toDouble() shouldBe (3.5 plusOrMinus 1e-5)
        (s.lse() as FloatTensor).get(0, 0, 0).toDouble() shouldBe (ln(8.0) plusOrMinus 1e-6)
        (s.out() as FloatTensor).get(1, 0, 0, 0) shouldBe 0f
        (s.lse() as FloatTensor).get(1, 0, 0).toDouble() shouldBe (ln(4.0) plusOrMinus 1e-6)
    }

    "strided views: [B, L, H, D] permuted queries and stride-0 broadcast bias" {
        val r = Random(21)
        val spec = AttentionSpec.builder(6, 2, 9).causal().build()
        val qBlhd = TestData.floats(r, 2, 11, 6, 9)
        val q = qBlhd.permute(0, 2, 1, 3)
        val k = TestData.floats(r, 2, 2, 13, 9)
        val v = TestData.floats(r, 2, 2, 13, 9)
        val bias = TestData.floats(r, 1, 1, 11, 13).broadcastTo(2, 6, 11, 13) // a stride-0 view
        val inputs = AttentionInputs.of(q, k, v).withBias(bias)
        val got = plans.plan(spec).run(inputs)
        val ref = ReferenceAttention.attend(spec, inputs)
        val naive = Naive32.attend(spec, inputs)
        TestData.checkFloat32("out", got.out(), ref.out(), naive.out().toFloatArray())
    }

    "computeLse = false returns no lse" {
        val gpu = Gpu.require()
        val spec = AttentionSpec.of(2, 1, 4)
        gpu.plan(AttentionProblem.of(spec, 1, 3, 3), PlanOptions.defaults().withLse(false)).use { plan ->
            val p = Problem(spec, 1, 3, 3, seed = 5)
            val o = plan.run(p.inputs())
            o.lse().shouldBeNull()
            val naive = Naive32.attend(spec, p.inputs())
            TestData.checkFloat32("out", o.out(), ReferenceAttention.attend(spec, p.inputs()).out(), naive.out().toFloatArray())
        }
    }

    "bad inputs fail before any device work, naming the argument" {
        val spec = AttentionSpec.of(4, 2, 8)
        val plan = plans.plan(spec)
        val r = Random(1)
        val q = TestData.floats(r, 1, 4, 3, 8)
        val k = TestData.floats(r, 1, 2, 5, 8)
        val v = TestData.floats(r, 1, 2, 5, 8)
        shouldThrow<AttentionException> { plan.run(AttentionInputs.of(q, TestData.floats(r, 1, 2, 5, 7), v)) }
            .message shouldContain "k.shape"
        shouldThrow<AttentionException> { plan.run(AttentionInputs.of(q, k, v).withKvLens(6)) }
            .message shouldContain "kvLens[0]"
        val nan = q.copy().also { it.set(Float.NaN, 0, 1, 2, 3) }
        shouldThrow<AttentionException> { plan.run(AttentionInputs.of(nan, k, v)) }.message shouldContain "q[0, 1, 2, 3]"
        shouldThrow<AttentionException> { plan.run(AttentionInputs.of(q, k, v).withBias(TestData.floats(r, 3, 4))) }
            .message shouldContain "bias.shape"
    }
})
