package org.attn4j.kernels.cpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.TiledKvCache
import org.attn4j.reference.ReferenceAttention
import java.util.Random

/**
 * At the edge of float32: finite inputs whose float32 computation overflows must give the float64 reference's answer
 * or an AttentionException naming the input, never NaN, an infinity or a silently empty row.
 */
class RangeTest : StringSpec({
    val spec = AttentionSpec.builder(2, 1, 4).build()
    val rng = Random(77)

    fun filled(value: Double, vararg shape: Int): FloatTensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { value.toFloat() }, *shape)

    fun filled64(value: Double, vararg shape: Int): DoubleTensor =
        DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { value }, *shape)

    /** The call is rejected with a message naming [names]; a reference sanity check shows the exact answer is finite. */
    fun rejected(inputs: AttentionInputs, vararg names: String) {
        val ref = ReferenceAttention.attend(spec, inputs)
        ref.out().toDoubleArray().all { it.isFinite() } shouldBe true
        for (backend in Kernels.backends()) {
            backend.plan(inputs.validate(spec), options()).use { plan ->
                val e = shouldThrow<AttentionException> { plan.run(inputs) }
                for (n in names) e.message!! shouldContain n
            }
        }
    }

    "q = k = 1e20: scores overflow float32, the call names q and k (was NaN)" {
        rejected(AttentionInputs.of(filled(1e20, 1, 2, 3, 4), filled(1e20, 1, 1, 5, 4), randn(rng, 1, 1, 5, 4)),
            "q and k", "float32")
    }

    "q = 1e20, k = -1e20: scores overflow to -inf, the call fails instead of returning empty rows (was 0 and lse -inf)" {
        rejected(AttentionInputs.of(filled(1e20, 1, 2, 3, 4), filled(-1e20, 1, 1, 5, 4), randn(rng, 1, 1, 5, 4)),
            "q and k")
    }

    "v = +-3e38: value sums overflow, the call names v (was +inf)" {
        val v = FloatTensor.of(FloatArray(5 * 4) { if (it % 4 < 2) 3e38f else -3e38f }, 1, 1, 5, 4)
        rejected(AttentionInputs.of(randn(rng, 1, 2, 3, 4), randn(rng, 1, 1, 5, 4), v), "v: max|v|")
    }

    "float64 inputs beyond float32 are rejected naming the input, not rounded to +-inf (was NaN)" {
        val q = randn(rng, 1, 2, 3, 4); val k = randn(rng, 1, 1, 5, 4); val v = randn(rng, 1, 1, 5, 4)
        rejected(AttentionInputs.of(filled64(1e200, 1, 2, 3, 4), DoubleTensor.copyOf(k), DoubleTensor.copyOf(v)), "q[0, 0, 0, 0]")
        rejected(AttentionInputs.of(q, k, filled64(1e200, 1, 1, 5, 4)), "v[0, 0, 0, 0]")
        rejected(AttentionInputs.of(q, k, v).withBias(filled64(-1e200, 5)), "bias[0]")
    }

    "extreme but computable magnitudes still run and match the reference" {
        val q = randn(rng, 1, 2, 3, 4); val k = randn(rng, 1, 1, 5, 4); val v = randn(rng, 1, 1, 5, 4)
        val cases = listOf(
            AttentionInputs.of(filled(1e-30, 1, 2, 3, 4), filled(1e-30, 1, 1, 5, 4), filled(1e-30, 1, 1, 5, 4)),
            AttentionInputs.of(q, k, v).withBias(FloatTensor.of(floatArrayOf(1e30f, 0f, 0f, 0f, 0f), 5)),
            AttentionInputs.of(q, k, v).withSinks(filled(1e30, 2)),                           // out ~0, lse = the sink
        )
        for ((n, inputs) in cases.withIndex()) {
            val ref = ReferenceAttention.attend(spec, inputs)
            for (backend in Kernels.backends()) {
                backend.plan(inputs.validate(spec), options()).use { plan ->
                    val got = plan.run(inputs)
                    assertClose("case $n out", got.out(), ref.out())
                    assertClose("case $n lse", got.lse(), ref.lse())
                }
            }
        }
    }

    "decode over a cache holding +-3e38 values fails naming the cache values" {
        val cache = TiledKvCache(DType.FLOAT32, 1, 1, 8, 4, 4, 4)
        cache.append(randn(rng, 1, 1, 5, 4), FloatTensor.of(FloatArray(20) { if (it % 2 == 0) 3e38f else -3e38f }, 1, 1, 5, 4))
        for (backend in Kernels.backends()) {
            backend.plan(AttentionInputs.of(randn(rng, 1, 2, 1, 4), randn(rng, 1, 1, 5, 4), randn(rng, 1, 1, 5, 4)).validate(spec),
                options()).use { plan ->
                val e = shouldThrow<AttentionException> { plan.decode(randn(rng, 1, 2, 1, 4), cache) }
                e.message!! shouldContain "cache values"
            }
        }
    }

    "a float64 chunk beyond float32 is not appended to a float32 cache" {
        val cache = TiledKvCache(DType.FLOAT32, 1, 1, 8, 4, 4, 4)
        val e = shouldThrow<AttentionException> { cache.append(filled64(1e200, 1, 1, 2, 4), filled64(1.0, 1, 1, 2, 4)) }
        e.message!! shouldContain "k["
        cache.length(0) shouldBe 0
    }

    "a layer step whose attention overflows fails and leaves the cache as it was" {
        // x = 1, wq = wk = 1e19 on a diagonal: q and k are 1e19 (finite), their scores 1e38 * 4 / 2 overflow
        val c = StandardLayerConfig.of(LayerVariant.MHA, 4, 1, 1, 4)
        val eye = FloatArray(16) { if (it % 5 == 0) 1e19f else 0f }
        val small = FloatArray(16) { if (it % 5 == 0) 1f else 0f }
        val w = StandardLayerWeights(FloatTensor.of(eye.clone(), 4, 4), null, FloatTensor.of(eye.clone(), 4, 4), null,
            FloatTensor.of(small.clone(), 4, 4), null, FloatTensor.of(small.clone(), 4, 4), null)
        for (backend in Kernels.backends()) {
            backend.planLayer(c, w, options()).use { layer ->
                val cache = layer.newCache(1, 8)
                layer.step(filled(1e-10, 1, 2, 4), cache)              // tiny x: scores tiny, fine
                val keys = cache.keys(0).toDoubleArray().toList()
                val values = cache.values(0).toDoubleArray().toList()
                val e = shouldThrow<AttentionException> { layer.step(filled(1.0, 1, 1, 4), cache) }
                e.message!! shouldContain "x·wq (queries)"
                cache.length(0) shouldBe 2
                cache.keys(0).toDoubleArray().toList() shouldBe keys
                cache.values(0).toDoubleArray().toList() shouldBe values
                shouldThrow<AttentionException> { layer.forward(filled(1.0, 1, 3, 4), null, null) }.message!! shouldContain "float32"
                layer.step(filled(1e-10, 1, 1, 4), cache)              // the cache still works after the rollback
                cache.length(0) shouldBe 3
            }
        }
    }
})
