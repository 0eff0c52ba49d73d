package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.property.Arb
import io.kotest.property.arbitrary.float
import io.kotest.property.arbitrary.numericFloat
import io.kotest.property.checkAll
import java.math.BigDecimal

/** The next bfloat16 above and below a float, as exact BigDecimals: the rounding must pick the nearer (even on ties). */
private fun bf16Neighbours(x: Float): Pair<Float, Float> {
    val bits = java.lang.Float.floatToRawIntBits(x)
    val down = Float.fromBits(bits and 0xFFFF0000.toInt())
    val up = Float.fromBits((bits and 0xFFFF0000.toInt()) + 0x10000)
    return down to up
}

class QuantizationTest : StringSpec({
    "bfloat16 rounds to nearest, ties to even (from the definition, checked with exact decimals)" {
        checkAll(2000, Arb.numericFloat(-3.0e38f, 3.0e38f)) { x ->
            val r = Quantization.fromBFloat16(Quantization.toBFloat16(x))
            if (x == 0f) return@checkAll
            val (a, b) = bf16Neighbours(x)
            val ex = BigDecimal(x.toDouble())
            val da = ex.subtract(BigDecimal(a.toDouble())).abs()
            val db = ex.subtract(BigDecimal(b.toDouble())).abs()
            val expected = when {
                da < db -> a
                db < da -> b
                else -> if ((java.lang.Float.floatToRawIntBits(a) ushr 16) and 1 == 0) a else b
            }
            r shouldBe expected
        }
    }

    "bfloat16 ties: 1 + 2^-8 goes down to 1, 1 + 3*2^-8 up to 1 + 2^-6" {
        Quantization.fromBFloat16(Quantization.toBFloat16(1f + 1f / 256)) shouldBe 1f
        Quantization.fromBFloat16(Quantization.toBFloat16(1f + 3f / 256)) shouldBe 1f + 1f / 64
        Quantization.fromBFloat16(Quantization.toBFloat16(Float.MAX_VALUE)) shouldBe Float.POSITIVE_INFINITY
        Quantization.fromBFloat16(Quantization.toBFloat16(Float.NaN)).isNaN() shouldBe true
    }

    "float16 keeps every value it can hold and rounds the rest to nearest" {
        checkAll(500, Arb.float(-60000f, 60000f)) { x ->
            if (!x.isFinite()) return@checkAll
            val r = Quantization.round(DType.FLOAT16, x)
            // a float16 has 10 fraction bits: its spacing at x is 2^(exponent - 10), 2^-24 below the normal range
            val spacing = Math.max(Math.scalb(1f, Math.getExponent(x) - 10), Math.scalb(1f, -24))
            Math.abs(r - x) shouldBeAtMost spacing / 2
        }
        Quantization.round(DType.FLOAT16, 65504f) shouldBe 65504f
        Quantization.round(DType.FLOAT16, 1f + 1f / 2048) shouldBe 1f // a tie goes to even
    }

    "int8: scale max|x|/127, ties to even, clamped, zero rows have scale 0" {
        val out = ByteArray(4)
        val scale = Quantization.quantizeRow(floatArrayOf(127f, 63.5f, -0.5f, 62.5f), 0, 4, out, 0)
        scale shouldBe 1f
        out.toList() shouldBe listOf<Byte>(127, 64, 0, 62)
        val zeros = ByteArray(3) { 5 }
        Quantization.quantizeRow(floatArrayOf(0f, -0f, 0f), 0, 3, zeros, 0) shouldBe 0f
        zeros.toList() shouldBe listOf<Byte>(0, 0, 0)
        Quantization.int8(1000f, 1f) shouldBe 127.toByte()
        Quantization.int8(-1000f, 1f) shouldBe (-127).toByte()
    }

    "an int8 tensor's views keep each element's scale" {
        val q = Int8Tensor.quantize(FloatTensor.of(floatArrayOf(1f, 2f, 4f, 8f, -3f, 6f), 2, 3))
        q.scales().toList() shouldBe listOf(4f / 127, 8f / 127)
        val t = q.permute(1, 0)
        t.getDouble(2, 1) shouldBe 95.0 * (8f / 127).toDouble() // 6 / (8/127) = 95.25 -> 95
        t.getDouble(0, 1) shouldBe q.getDouble(1, 0)
        q.select(0, 1).copy().scales().toList() shouldBe listOf(8f / 127)
    }

    "a reduced KV cache stores by the rule, reads back exactly, and a failed append writes nothing" {
        val k = FloatTensor.of(floatArrayOf(1f, -2f, 0.25f, 3f), 1, 1, 2, 2)
        val v = FloatTensor.of(floatArrayOf(0.5f, 1f, 70000f, 2f), 1, 1, 2, 2)
        val half = ContiguousKvCache(DType.FLOAT16, 1, 1, 4, 2, 2)
        val e = shouldThrow<AttentionException> { half.append(k, v) }
        e.message shouldContain "65504"
        half.length(0) shouldBe 0
        val int8 = ContiguousKvCache(DType.INT8, 1, 1, 4, 2, 2)
        int8.append(k, v)
        val keys = int8.keys(0) as Int8Tensor
        keys.getDouble(0, 0, 1) shouldBe (-127.0 * (2f / 127).toDouble())
        int8.gather(FloatTensor.zeros(1, 1, 1, 2)).k().dtype() shouldBe DType.INT8
        val bf = PagedKvCache(DType.BFLOAT16, 1, 1, 2, 2, 1, 4, 4)
        bf.append(k, v)
        bf.values(0).getDouble(0, 1, 0) shouldBe Quantization.round(DType.BFLOAT16, 70000f).toDouble()
    }

    "a backend that does not declare a reduced type declines it with a reason" {
        val b = object : AttentionBackend {
            override fun name() = "plain"
            override fun precision() = Precision.FLOAT32
            override fun support(problem: AttentionProblem) = Support.ok()
            override fun plan(problem: AttentionProblem, options: PlanOptions) = throw UnsupportedOperationException()
            override fun supportLayer(config: LayerConfig) = Support.ok()
            override fun planLayer(config: LayerConfig, weights: LayerWeights, options: PlanOptions) = throw UnsupportedOperationException()
        }
        b.supportStorage(DType.FLOAT32).isSupported shouldBe true
        b.supportStorage(DType.INT8).reasons().single() shouldContain "INT8"
        shouldThrow<AttentionException> { b.newKvCache(KvCacheSpec(DType.BFLOAT16, 1, 1, 4, 2, 2)) }.message shouldContain "BFLOAT16"
    }
})

private infix fun Float.shouldBeAtMost(limit: Float) {
    if (this > limit) throw AssertionError("$this > $limit")
}
