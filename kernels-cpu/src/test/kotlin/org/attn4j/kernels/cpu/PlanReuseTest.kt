package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.FloatTensor
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import java.util.Random
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import kotlin.math.abs

/**
 * One plan run with many shapes (batches, query and KV lengths), in turn and from several threads at once: the engine
 * keeps a layout per shape and reuses its scratch across calls, so every result must equal, bit for bit, what a fresh
 * plan computes for the same inputs, and stay close to the float64 reference.
 */
class PlanReuseTest : StringSpec({
    // small tiles so that these small shapes take every path: packed keys, keys in place, split-KV, query blocks
    val tuning = CpuTuning(8, 16, 8, 32, 16, 64)
    val spec = AttentionSpec.builder(4, 2, 24).vHeadDim(20).causal().build()
    // (batch, qLen, kvLen): shapes that differ in one size only, so that a layout cached under too coarse a key is reused
    val shapes = listOf(Triple(1, 1, 200), Triple(2, 37, 37), Triple(1, 5, 90), Triple(1, 64, 90), Triple(1, 1, 90),
        Triple(3, 1, 33), Triple(1, 37, 37), Triple(1, 64, 130), Triple(2, 9, 0), Triple(1, 1, 1), Triple(1, 1, 33))

    fun randn(rng: Random, vararg shape: Int): FloatTensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { rng.nextGaussian().toFloat() }, *shape)

    fun inputs(seed: Long, batch: Int, lq: Int, lk: Int): AttentionInputs {
        val rng = Random(seed)
        return AttentionInputs.of(randn(rng, batch, 4, lq, 24), randn(rng, batch, 2, lk, 24), randn(rng, batch, 2, lk, 20))
    }

    val options = PlanOptions(2, true, PlanOptions.MlaPath.ABSORBED)

    for (kernels in listOf(ScalarCpuKernels.INSTANCE, CpuKernels.lookup(null).kernels())) {
        val backend = CpuBackend(kernels, tuning)
        val cases = shapes.mapIndexed { n, (b, lq, lk) -> inputs(n.toLong(), b, lq, lk) }
        val expected: List<AttentionOutput> = cases.map { c ->
            backend.plan(AttentionProblem.of(spec, c.q().size(0), c.q().size(2), c.k().size(2)), options).use { it.run(c) }
        }

        "fresh plans agree with the float64 reference [${kernels.name()}]" {
            for ((n, c) in cases.withIndex()) {
                val ref = ReferenceAttention.attend(spec, c)
                val got = expected[n].out().toFloatArray()
                val want = ref.out().toFloatArray()
                got.size shouldBe want.size
                for (e in got.indices) {
                    if (abs(got[e] - want[e]) > 1e-4f) error("shape ${shapes[n]}: out[$e] = ${got[e]}, reference ${want[e]}")
                }
            }
        }

        "one plan, shapes in turn and back again, equals fresh plans [${kernels.name()}]" {
            val (b, lq, lk) = shapes[0]
            backend.plan(AttentionProblem.of(spec, b, lq, lk), options).use { plan ->
                for (round in 0 until 2) {
                    for (n in (if (round == 0) cases.indices else cases.indices.reversed())) {
                        val got = plan.run(cases[n])
                        got.out().toFloatArray().toList() shouldBe expected[n].out().toFloatArray().toList()
                        got.lse().toFloatArray().toList() shouldBe expected[n].lse().toFloatArray().toList()
                    }
                }
            }
        }

        "one plan shared by four threads running different shapes equals fresh plans [${kernels.name()}]" {
            val (b, lq, lk) = shapes[0]
            val threads = Executors.newFixedThreadPool(4)
            try {
                backend.plan(AttentionProblem.of(spec, b, lq, lk), options).use { plan ->
                    val jobs = (0 until 4).map { t ->
                        Callable {
                            for (round in 0 until 5) {
                                for (step in cases.indices) {
                                    val n = (step * (t + 1) + round) % cases.size
                                    val got = plan.run(cases[n])
                                    if (!got.out().toFloatArray().contentEquals(expected[n].out().toFloatArray())
                                        || !got.lse().toFloatArray().contentEquals(expected[n].lse().toFloatArray())) {
                                        error("thread $t, shape ${shapes[n]}: differs from a fresh plan")
                                    }
                                }
                            }
                        }
                    }
                    for (f in threads.invokeAll(jobs)) f.get()
                }
            } finally {
                threads.shutdownNow()
            }
        }
    }
})
