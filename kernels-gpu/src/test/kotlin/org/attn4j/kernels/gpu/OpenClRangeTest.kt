package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs
import kotlin.random.Random

/**
 * At the edge of float32 the opencl backend gives the float64 reference's answer or an AttentionException naming the
 * input, never NaN, an infinity or rows of 0 with lse -inf.
 */
class OpenClRangeTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val spec = AttentionSpec.builder(2, 1, 4).build()
    val rnd = Random(91)
    val options = PlanOptions.defaults().withLse(true)

    fun filled(value: Double, vararg shape: Int): FloatTensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { value.toFloat() }, *shape)

    fun filled64(value: Double, vararg shape: Int): DoubleTensor =
        DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { value }, *shape)

    fun randn(vararg shape: Int): FloatTensor =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { (rnd.nextDouble() * 2 - 1).toFloat() }, *shape)

    /** Either FORMAT.md's tolerance against the float64 reference, or an AttentionException naming [name]. */
    fun rightOrRejected(inputs: AttentionInputs, name: String): String {
        val ref = ReferenceAttention.attend(spec, inputs)
        ref.out().toDoubleArray().all { it.isFinite() } shouldBe true
        Gpu.require().plan(inputs.validate(spec), options).use { plan ->
            val got = try {
                plan.run(inputs)
            } catch (e: AttentionException) {
                e.message!! shouldContain name
                return "rejected"
            }
            for ((a, r) in listOf(got.out() to ref.out(), got.lse() to ref.lse())) {
                val x = a.toDoubleArray(); val y = r.toDoubleArray()
                for (i in y.indices) {
                    check(abs(x[i] - y[i]) <= 1e-5 + 1e-4 * abs(y[i])) { "element $i: got ${x[i]}, float64 reference ${y[i]}" }
                }
            }
            return "computed"
        }
    }

    "q = k = 1e20: the scores overflow float32; the call names q and k (was NaN)" {
        rightOrRejected(AttentionInputs.of(filled(1e20, 1, 2, 3, 4), filled(1e20, 1, 1, 5, 4), randn(1, 1, 5, 4)), "q and k") shouldBe "rejected"
    }

    "q = 1e20, k = -1e20: no silently empty rows (out 0, lse -inf)" {
        rightOrRejected(AttentionInputs.of(filled(1e20, 1, 2, 3, 4), filled(-1e20, 1, 1, 5, 4), randn(1, 1, 5, 4)), "q and k") shouldBe "rejected"
    }

    "v = +-3e38: value sums overflow; the call names v (was +inf)" {
        val v = FloatTensor.of(FloatArray(20) { if (it % 2 == 0) 3e38f else -3e38f }, 1, 1, 5, 4)
        rightOrRejected(AttentionInputs.of(randn(1, 2, 3, 4), randn(1, 1, 5, 4), v), "v: max|v|") shouldBe "rejected"
    }

    "float64 1e200: computed on a float64 path, or rejected naming the input on the float32 path (was 0 with lse +-inf)" {
        val q = randn(1, 2, 3, 4); val k = randn(1, 1, 5, 4); val v = randn(1, 1, 5, 4)
        // all float64: the device's fp64 path (when it has one) must compute it exactly
        val all64 = AttentionInputs.of(DoubleTensor.copyOf(q), DoubleTensor.copyOf(k), filled64(1e200, 1, 1, 5, 4))
        rightOrRejected(all64, "v[") shouldBe (if (Gpu.require().precisionFor(DType.FLOAT64) == Precision.FLOAT64) "computed" else "rejected")
        // float32 q: the float32 path, where 1e200 does not fit
        rightOrRejected(AttentionInputs.of(q, k, filled64(1e200, 1, 1, 5, 4)), "v[0, 0, 0, 0]") shouldBe "rejected"
        rightOrRejected(AttentionInputs.of(filled64(1e200, 1, 2, 3, 4), k, v), "q[0, 0, 0, 0]") shouldBe "rejected"
    }

    "a huge sink is not an overflow: out ~0 and lse = the sink are returned" {
        rightOrRejected(AttentionInputs.of(randn(1, 2, 3, 4), randn(1, 1, 5, 4), randn(1, 1, 5, 4)).withSinks(filled(1e30, 2)), "-") shouldBe "computed"
    }

    "decode over a cache of +-3e38 values fails naming the cache values" {
        val backend = Gpu.require()
        val cache = backend.newKvCache(1, 1, 8, 4, 4)
        cache.dtype() shouldBe DType.FLOAT32
        cache.append(randn(1, 1, 5, 4), FloatTensor.of(FloatArray(20) { if (it % 2 == 0) 3e38f else -3e38f }, 1, 1, 5, 4))
        backend.plan(AttentionInputs.of(randn(1, 2, 1, 4), randn(1, 1, 5, 4), randn(1, 1, 5, 4)).validate(spec), options).use { plan ->
            shouldThrow<AttentionException> { plan.decode(randn(1, 2, 1, 4), cache) }.message!! shouldContain "cache values"
        }
    }

    "a layer step whose attention overflows fails and leaves the cache as it was" {
        // x = 1, wq = wk = 1e19 on a diagonal: q and k are 1e19 (finite), their scores 1e38 * 4 / 2 overflow
        val c = StandardLayerConfig.of(LayerVariant.MHA, 4, 1, 1, 4)
        val eye = FloatArray(16) { if (it % 5 == 0) 1e19f else 0f }
        val small = FloatArray(16) { if (it % 5 == 0) 1f else 0f }
        val w = StandardLayerWeights(FloatTensor.of(eye.clone(), 4, 4), null, FloatTensor.of(eye.clone(), 4, 4), null,
            FloatTensor.of(small.clone(), 4, 4), null, FloatTensor.of(small.clone(), 4, 4), null)
        Gpu.require().planLayer(c, w, options).use { layer ->
            val cache = layer.newCache(1, 8)
            layer.step(filled(1e-10, 1, 2, 4), cache)              // tiny x: scores tiny, fine
            val keys = cache.keys(0).toDoubleArray().toList()
            val values = cache.values(0).toDoubleArray().toList()
            val e = shouldThrow<AttentionException> { layer.step(filled(1.0, 1, 1, 4), cache) }
            e.message!! shouldContain "x·wq (queries)"
            e.message!! shouldContain "float32"
            cache.length(0) shouldBe 2
            cache.keys(0).toDoubleArray().toList() shouldBe keys
            cache.values(0).toDoubleArray().toList() shouldBe values
            shouldThrow<AttentionException> { layer.forward(filled(1.0, 1, 3, 4), null, null) }.message!! shouldContain "x·wq (queries) and x·wk (keys)"
            layer.step(filled(1e-10, 1, 1, 4), cache)              // the cache still works after the rollback
            cache.length(0) shouldBe 3
        }
    }

    "an MLA layer step whose attention overflows fails and leaves the latent cache as it was" {
        // hidden 4, one head, latent 2, nope 2, rope 2, v 2. w_q and kv_a_norm are 3e19: with x = 1 the absorbed
        // queries and the normalised latents are 3e19 each, so their products (9e38) overflow; with x = 1e-10 the
        // queries are 3e9 and the latents (RMSNorm, eps 1e-6) about 3e16: fine.
        val c = MlaLayerConfig.of(4, 1, 0, 2, 2, 2, 2)
        fun diag(value: Float, rows: Int, cols: Int, upTo: Int) =
            FloatTensor.of(FloatArray(rows * cols) { if (it / cols == it % cols && it / cols < upTo) value else 0f }, rows, cols)
        val w = MlaLayerWeights(diag(3e19f, 4, 4, 2), null, null, null, diag(1f, 4, 4, 2),
            FloatTensor.of(floatArrayOf(3e19f, 3e19f), 2), diag(1f, 4, 2, 2), diag(1e-20f, 4, 2, 2))
        Gpu.require().planLayer(c, w, options).use { layer ->
            val cache = layer.newCache(1, 8)
            layer.step(filled(1e-10, 1, 2, 4), cache)
            val latents = cache.keys(0).toDoubleArray().toList()
            val e = shouldThrow<AttentionException> { layer.step(filled(1.0, 1, 1, 4), cache) }
            e.message!! shouldContain "x (absorbed queries)"
            cache.length(0) shouldBe 2
            cache.keys(0).toDoubleArray().toList() shouldBe latents
            shouldThrow<AttentionException> { layer.forward(filled(1.0, 1, 3, 4), null, null) }.message!! shouldContain "float32"
            layer.step(filled(1e-10, 1, 1, 4), cache)
            cache.length(0) shouldBe 3
        }
    }

    "a float64 activation beyond float32 is rejected by an opencl float32 layer, not uploaded as an infinity" {
        val c = StandardLayerConfig.of(LayerVariant.MHA, 4, 1, 1, 4)
        val eye = FloatArray(16) { if (it % 5 == 0) 1f else 0f }
        val w = StandardLayerWeights(FloatTensor.of(eye.clone(), 4, 4), null, FloatTensor.of(eye.clone(), 4, 4), null,
            FloatTensor.of(eye.clone(), 4, 4), null, FloatTensor.of(eye.clone(), 4, 4), null)
        Gpu.require().planLayer(c, w, options).use { layer ->
            val cache = layer.newCache(1, 8)
            shouldThrow<AttentionException> { layer.step(filled64(1e200, 1, 1, 4), cache) }.message!! shouldContain "x[0, 0, 0]"
            cache.length(0) shouldBe 0
            shouldThrow<AttentionException> { layer.forward(filled64(1e200, 1, 1, 4), null, null) }.message!! shouldContain "x[0, 0, 0]"
        }
    }
})
