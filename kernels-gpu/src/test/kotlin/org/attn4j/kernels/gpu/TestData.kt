package org.attn4j.kernels.gpu

import io.kotest.assertions.withClue
import io.kotest.matchers.doubles.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.max
import kotlin.random.Random

/** Seeded random tensors and the accuracy checks shared by the specs. */
object TestData {
    fun floats(r: Random, vararg shape: Int, scale: Double = 1.0): FloatTensor {
        val n = Tensor.elementCount(*shape)
        return FloatTensor.of(FloatArray(n) { ((r.nextDouble() * 2 - 1) * scale).toFloat() }, *shape)
    }

    fun doubles(r: Random, vararg shape: Int, scale: Double = 1.0): DoubleTensor {
        val n = Tensor.elementCount(*shape)
        return DoubleTensor.of(DoubleArray(n) { (r.nextDouble() * 2 - 1) * scale }, *shape)
    }

    fun bools(r: Random, vararg shape: Int, pTrue: Double = 0.7): BoolTensor {
        val n = Tensor.elementCount(*shape)
        return BoolTensor.of(BooleanArray(n) { r.nextDouble() < pTrue }, *shape)
    }

    /** Largest |a - b| over finite pairs; equal infinities count as 0, any other mismatch as +inf. */
    fun maxError(a: DoubleArray, b: DoubleArray): Double {
        require(a.size == b.size) { "sizes ${a.size} vs ${b.size}" }
        var e = 0.0
        for (i in a.indices) {
            val x = a[i]; val y = b[i]
            e = when {
                x.isNaN() || y.isNaN() -> Double.POSITIVE_INFINITY
                x.isInfinite() || y.isInfinite() -> if (x == y) e else Double.POSITIVE_INFINITY
                else -> max(e, abs(x - y))
            }
        }
        return e
    }

    fun maxAbs(a: DoubleArray): Double = a.filter { it.isFinite() }.maxOfOrNull { abs(it) } ?: 0.0

    /**
     * The float32 accuracy rule (as in FlashAttention's tests; conformance/README.md): max |gpu - ref64| <= 2 max |naive32 - ref64| + 1e-6,
     * plus an absolute sanity bound so that a naive evaluation that is itself far off cannot excuse the kernel.
     */
    fun checkFloat32(what: String, gpu: Tensor, ref: Tensor, naive: FloatArray) {
        withClue("$what: dtype") { gpu.dtype() shouldBe org.attn4j.api.DType.FLOAT32 }
        withClue("$what: shape") { gpu.shape().toList() shouldBe ref.shape().toList() }
        val r = ref.toDoubleArray()
        val g = gpu.toDoubleArray()
        val n = DoubleArray(naive.size) { naive[it].toDouble() }
        val eGpu = maxError(g, r)
        val eNaive = maxError(n, r)
        withClue("$what: gpu error $eGpu vs naive float32 error $eNaive") {
            eGpu shouldBeLessThanOrEqual 2 * eNaive + 1e-6
            eGpu shouldBeLessThanOrEqual 1e-3 * (1 + maxAbs(r))
        }
    }

    /** FORMAT.md's float64 rule: |actual - expected| <= 1e-9 + 1e-9 |expected| element-wise, infinities equal. */
    fun checkFloat64(what: String, gpu: Tensor, ref: Tensor) {
        withClue("$what: dtype") { gpu.dtype() shouldBe org.attn4j.api.DType.FLOAT64 }
        withClue("$what: shape") { gpu.shape().toList() shouldBe ref.shape().toList() }
        val r = ref.toDoubleArray()
        val g = gpu.toDoubleArray()
        for (i in r.indices) {
            val ok = if (r[i].isInfinite() || g[i].isInfinite()) r[i] == g[i] else abs(g[i] - r[i]) <= 1e-9 + 1e-9 * abs(r[i])
            if (!ok) throw AssertionError("$what: element $i is ${g[i]}, reference ${r[i]} (float64 rule 1e-9)")
        }
    }
}
