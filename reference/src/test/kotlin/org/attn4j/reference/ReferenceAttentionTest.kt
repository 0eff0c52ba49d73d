package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.Window
import java.util.Random
import kotlin.math.E
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max
import kotlin.math.sqrt
import kotlin.math.tanh

private fun tensor(shape: IntArray, vararg values: Double) = DoubleTensor.of(values, *shape)

private fun randomTensor(rnd: Random, vararg shape: Int) =
    DoubleTensor.of(DoubleArray(org.attn4j.api.Tensor.elementCount(*shape)) { rnd.nextGaussian() }, *shape)

private fun randomMask(rnd: Random, vararg shape: Int) =
    BoolTensor.of(BooleanArray(org.attn4j.api.Tensor.elementCount(*shape)) { rnd.nextDouble() < 0.7 }, *shape)

private fun AttentionOutput.outAt(vararg index: Int) = out().getDouble(*index)
private fun AttentionOutput.lseAt(vararg index: Int) = lse().getDouble(*index)

/** Element-wise |a - b| <= tol; equal infinities match. */
private fun shouldBeClose(actual: DoubleArray, expected: DoubleArray, tol: Double = 1e-12) {
    actual.size shouldBe expected.size
    for (n in actual.indices) {
        val a = actual[n]
        val e = expected[n]
        withClue("element $n: $a vs $e") {
            if (e.isInfinite()) a shouldBe e else (abs(a - e) <= tol) shouldBe true
        }
    }
}

class ReferenceAttentionTest : StringSpec({

    // ---------------------------------------------------------------------------------------------------------
    // Hand-worked examples. One head, q_len 2, kv_len 3, head_dim 1 (so the default scale is 1/sqrt(1) = 1),
    //   q = [1, 2], k = [0, 1, 2], v = [1, 2, 4]  =>  raw scores s_ij = q_i * k_j:
    //   row 0: [0, 1, 2]        row 1: [0, 2, 4]
    // Expected values are the softmax written out by hand: out_i = sum_j e^{s_ij} v_j / sum_j e^{s_ij},
    // lse_i = ln sum_j e^{s_ij}, over the visible j only.
    // ---------------------------------------------------------------------------------------------------------
    val q = tensor(intArrayOf(1, 1, 2, 1), 1.0, 2.0)
    val k = tensor(intArrayOf(1, 1, 3, 1), 0.0, 1.0, 2.0)
    val v = tensor(intArrayOf(1, 1, 3, 1), 1.0, 2.0, 4.0)
    val plain = AttentionSpec.of(1, 1, 1)
    val e2 = E * E
    val e4 = e2 * e2

    "no mask: every key visible" {
        val o = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v))
        o.out().shape().toList() shouldBe listOf(1, 1, 2, 1)
        o.lse().shape().toList() shouldBe listOf(1, 1, 2)
        // row 0: (1*1 + e*2 + e^2*4) / (1 + e + e^2)
        o.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E + 4 * e2) / (1 + E + e2) plusOrMinus 1e-14)
        o.lseAt(0, 0, 0) shouldBe (ln(1 + E + e2) plusOrMinus 1e-14)
        // row 1: (1 + 2e^2 + 4e^4) / (1 + e^2 + e^4)
        o.outAt(0, 0, 1, 0) shouldBe ((1 + 2 * e2 + 4 * e4) / (1 + e2 + e4) plusOrMinus 1e-14)
        o.lseAt(0, 0, 1) shouldBe (ln(1 + e2 + e4) plusOrMinus 1e-14)
    }

    "causal bottom-right: query i sits at key i + (3 - 2)" {
        val o = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).causal().build(), AttentionInputs.of(q, k, v))
        // d_0 = 1: keys 0, 1 -> (1 + 2e) / (1 + e)
        o.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E) / (1 + E) plusOrMinus 1e-14)
        o.lseAt(0, 0, 0) shouldBe (ln(1 + E) plusOrMinus 1e-14)
        // d_1 = 2: all keys, as without a mask
        o.outAt(0, 0, 1, 0) shouldBe ((1 + 2 * e2 + 4 * e4) / (1 + e2 + e4) plusOrMinus 1e-14)
    }

    "causal top-left: query i sits at key i" {
        val spec = AttentionSpec.builder(1, 1, 1).causal().alignment(Alignment.TOP_LEFT).build()
        val o = ReferenceAttention.attend(spec, AttentionInputs.of(q, k, v))
        // d_0 = 0: key 0 only -> out = v_0 = 1, lse = ln e^0 = 0
        o.outAt(0, 0, 0, 0) shouldBe (1.0 plusOrMinus 1e-15)
        o.lseAt(0, 0, 0) shouldBe (0.0 plusOrMinus 1e-15)
        // d_1 = 1: keys 0, 1 with scores [0, 2] -> (1 + 2e^2) / (1 + e^2)
        o.outAt(0, 0, 1, 0) shouldBe ((1 + 2 * e2) / (1 + e2) plusOrMinus 1e-14)
        o.lseAt(0, 0, 1) shouldBe (ln(1 + e2) plusOrMinus 1e-14)
    }

    "window [left 1, right 0] bottom-right and [left 0, right 1] top-left" {
        val br = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).window(1, 0).build(), AttentionInputs.of(q, k, v))
        // d_0 = 1: keys 0..1, scores [0, 1] -> (1 + 2e) / (1 + e)
        br.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E) / (1 + E) plusOrMinus 1e-14)
        // d_1 = 2: keys 1..2, scores [2, 4] -> (2e^2 + 4e^4) / (e^2 + e^4)
        br.outAt(0, 0, 1, 0) shouldBe ((2 * e2 + 4 * e4) / (e2 + e4) plusOrMinus 1e-14)
        br.lseAt(0, 0, 1) shouldBe (ln(e2 + e4) plusOrMinus 1e-14)
        val tl = ReferenceAttention.attend(
            AttentionSpec.builder(1, 1, 1).window(0, 1).alignment(Alignment.TOP_LEFT).build(), AttentionInputs.of(q, k, v))
        // d_0 = 0: keys 0..1 -> (1 + 2e) / (1 + e);  d_1 = 1: keys 1..2 -> (2e^2 + 4e^4) / (e^2 + e^4)
        tl.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E) / (1 + E) plusOrMinus 1e-14)
        tl.outAt(0, 0, 1, 0) shouldBe ((2 * e2 + 4 * e4) / (e2 + e4) plusOrMinus 1e-14)
    }

    "softcap 2: s = 2 tanh(s / 2) before the softmax" {
        val o = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).softcap(2.0).build(), AttentionInputs.of(q, k, v))
        // row 1 scores [0, 2, 4] -> [0, 2 tanh 1, 2 tanh 2]
        val a = exp(0.0)
        val b = exp(2 * tanh(1.0))
        val c = exp(2 * tanh(2.0))
        o.outAt(0, 0, 1, 0) shouldBe ((a * 1 + b * 2 + c * 4) / (a + b + c) plusOrMinus 1e-14)
        o.lseAt(0, 0, 1) shouldBe (ln(a + b + c) plusOrMinus 1e-14)
    }

    "softcap applies before the bias" {
        // scale 3 makes row 1's raw scores [0, 6, 12]; softcap 1 squashes them to [0, tanh 6, tanh 12];
        // a bias of +5 on key 0 is added after the cap, so key 0 dominates: scores [5, tanh 6, tanh 12]
        val spec = AttentionSpec.builder(1, 1, 1).scale(3.0).softcap(1.0).build()
        val bias = tensor(intArrayOf(3), 5.0, 0.0, 0.0)
        val o = ReferenceAttention.attend(spec, AttentionInputs.of(q, k, v).withBias(bias))
        val w = doubleArrayOf(exp(5.0), exp(tanh(6.0)), exp(tanh(12.0)))
        o.outAt(0, 0, 1, 0) shouldBe ((w[0] * 1 + w[1] * 2 + w[2] * 4) / w.sum() plusOrMinus 1e-14)
    }

    "bias is added to the scaled scores" {
        val bias = tensor(intArrayOf(2, 3), 1.0, 0.0, -1.0, 0.5, 0.0, 0.0)
        val o = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withBias(bias))
        // row 0: [0+1, 1+0, 2-1] = [1, 1, 1] -> out = (1 + 2 + 4) / 3, lse = ln(3e) = 1 + ln 3
        o.outAt(0, 0, 0, 0) shouldBe (7.0 / 3 plusOrMinus 1e-14)
        o.lseAt(0, 0, 0) shouldBe (1 + ln(3.0) plusOrMinus 1e-14)
        // row 1: [0.5, 2, 4]
        val w = doubleArrayOf(exp(0.5), e2, e4)
        o.outAt(0, 0, 1, 0) shouldBe ((w[0] + 2 * w[1] + 4 * w[2]) / w.sum() plusOrMinus 1e-14)
    }

    "ALiBi subtracts slope * |d_i - j|" {
        val o = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withAlibiSlopes(tensor(intArrayOf(1), 0.5)))
        // bottom-right: d_0 = 1 -> [0 - 0.5*1, 1 - 0, 2 - 0.5*1] = [-0.5, 1, 1.5]
        val w0 = doubleArrayOf(exp(-0.5), exp(1.0), exp(1.5))
        o.outAt(0, 0, 0, 0) shouldBe ((w0[0] + 2 * w0[1] + 4 * w0[2]) / w0.sum() plusOrMinus 1e-14)
        // d_1 = 2 -> [0 - 0.5*2, 2 - 0.5*1, 4 - 0] = [-1, 1.5, 4]
        val w1 = doubleArrayOf(exp(-1.0), exp(1.5), exp(4.0))
        o.outAt(0, 0, 1, 0) shouldBe ((w1[0] + 2 * w1[1] + 4 * w1[2]) / w1.sum() plusOrMinus 1e-14)
        o.lseAt(0, 0, 1) shouldBe (ln(w1.sum()) plusOrMinus 1e-14)
        // top-left: d_0 = 0 -> [0, 1 - 0.5, 2 - 1] = [0, 0.5, 1]
        val tl = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).alignment(Alignment.TOP_LEFT).build(),
            AttentionInputs.of(q, k, v).withAlibiSlopes(tensor(intArrayOf(1), 0.5)))
        val w2 = doubleArrayOf(1.0, exp(0.5), E)
        tl.outAt(0, 0, 0, 0) shouldBe ((w2[0] + 2 * w2[1] + 4 * w2[2]) / w2.sum() plusOrMinus 1e-14)
    }

    "a sink adds e^sink to the denominator and nothing to the numerator" {
        val o = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withSinks(tensor(intArrayOf(1), 1.0)))
        // row 0: den = e^1 + 1 + e + e^2
        val den = E + 1 + E + e2
        o.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E + 4 * e2) / den plusOrMinus 1e-14)
        o.lseAt(0, 0, 0) shouldBe (ln(den) plusOrMinus 1e-14)
        // a huge sink takes nearly all the mass (and must not overflow): out ~ 0, lse ~ sink
        val big = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withSinks(tensor(intArrayOf(1), 800.0)))
        big.outAt(0, 0, 1, 0) shouldBe ((1 + 2 * e2 + 4 * e4) * exp(-800.0) plusOrMinus 1e-300)
        big.lseAt(0, 0, 1) shouldBe (800.0 plusOrMinus 1e-12)
    }

    "kv_lens shorten a sequence and move its bottom-right diagonal" {
        // batch 2, the same q/k/v twice; sequence 1 has only 2 keys
        val q2 = tensor(intArrayOf(2, 1, 2, 1), 1.0, 2.0, 1.0, 2.0)
        val k2 = tensor(intArrayOf(2, 1, 3, 1), 0.0, 1.0, 2.0, 0.0, 1.0, 2.0)
        val v2 = tensor(intArrayOf(2, 1, 3, 1), 1.0, 2.0, 4.0, 1.0, 2.0, 4.0)
        val o = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).causal().build(),
            AttentionInputs.of(q2, k2, v2).withKvLens(3, 2))
        // sequence 0 as "causal bottom-right" above
        o.outAt(0, 0, 0, 0) shouldBe ((1 + 2 * E) / (1 + E) plusOrMinus 1e-14)
        // sequence 1: d_i = i + (2 - 2) = i. Row 0 sees key 0 -> 1; row 1 sees keys 0, 1 -> (1 + 2e^2) / (1 + e^2)
        o.outAt(1, 0, 0, 0) shouldBe (1.0 plusOrMinus 1e-15)
        o.lseAt(1, 0, 0) shouldBe (0.0 plusOrMinus 1e-15)
        o.outAt(1, 0, 1, 0) shouldBe ((1 + 2 * e2) / (1 + e2) plusOrMinus 1e-14)
        // without causal, key 2 (score 4 for row 1) would dominate; kv_lens still hides it
        val nc = ReferenceAttention.attend(plain, AttentionInputs.of(q2, k2, v2).withKvLens(3, 2))
        nc.outAt(1, 0, 1, 0) shouldBe ((1 + 2 * e2) / (1 + e2) plusOrMinus 1e-14)
    }

    "a row that sees no key: out 0, lse -inf, or the sink with sinks" {
        val mask = BoolTensor.of(booleanArrayOf(false, false, false, true, false, true), 2, 3)  // row 0 sees nothing
        val o = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withMask(mask))
        o.outAt(0, 0, 0, 0) shouldBe 0.0
        o.lseAt(0, 0, 0) shouldBe Double.NEGATIVE_INFINITY
        // row 1 sees keys 0 and 2: scores [0, 4] -> (1 + 4e^4) / (1 + e^4)
        o.outAt(0, 0, 1, 0) shouldBe ((1 + 4 * e4) / (1 + e4) plusOrMinus 1e-14)
        val s = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withMask(mask).withSinks(tensor(intArrayOf(1), 0.7)))
        s.outAt(0, 0, 0, 0) shouldBe 0.0
        s.lseAt(0, 0, 0) shouldBe 0.7
        // row 1 with the sink: den = e^0.7 + 1 + e^4
        s.outAt(0, 0, 1, 0) shouldBe ((1 + 4 * e4) / (exp(0.7) + 1 + e4) plusOrMinus 1e-14)
        // kv_lens 0 empties every row; so does bottom-right causal with q_len > kv_len for the first rows
        val none = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withKvLens(0))
        none.out().toDoubleArray().toList() shouldBe listOf(0.0, 0.0)
        none.lse().toDoubleArray().toList() shouldBe listOf(Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY)
        // q_len 2 over kv_len 1, causal bottom-right: d_0 = 0 + (1 - 2) = -1 sees nothing; d_1 = 0 sees key 0
        val tall = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).causal().build(),
            AttentionInputs.of(q, k.slice(2, 2, 1), v.slice(2, 2, 1)))
        tall.outAt(0, 0, 0, 0) shouldBe 0.0
        tall.lseAt(0, 0, 0) shouldBe Double.NEGATIVE_INFINITY
        tall.outAt(0, 0, 1, 0) shouldBe 4.0
        tall.lseAt(0, 0, 1) shouldBe 4.0                                     // q_1 * k_2 = 2 * 2
    }

    "head_dim 2 uses scale 1/sqrt(2), and each value column is weighted alike" {
        // q = [1, 1]; k = [1, 0], [0, 1], [1, 1] -> dots [1, 1, 2], scores [1, 1, 2] / sqrt 2
        // v = [1, 0], [0, 1], [2, 2]
        val o = ReferenceAttention.attend(AttentionSpec.of(1, 1, 2), AttentionInputs.of(
            tensor(intArrayOf(1, 1, 1, 2), 1.0, 1.0),
            tensor(intArrayOf(1, 1, 3, 2), 1.0, 0.0, 0.0, 1.0, 1.0, 1.0),
            tensor(intArrayOf(1, 1, 3, 2), 1.0, 0.0, 0.0, 1.0, 2.0, 2.0)))
        val a = exp(1 / sqrt(2.0))
        val c = exp(2 / sqrt(2.0))
        o.outAt(0, 0, 0, 0) shouldBe ((a + 2 * c) / (2 * a + c) plusOrMinus 1e-14)
        o.outAt(0, 0, 0, 1) shouldBe ((a + 2 * c) / (2 * a + c) plusOrMinus 1e-14)
        o.lseAt(0, 0, 0) shouldBe (ln(2 * a + c) plusOrMinus 1e-14)
    }

    "vHeadDim differs from headDim" {
        // one key: softmax weight 1, out = v; v is 3 wide while q/k are 1 wide
        val o = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).vHeadDim(3).build(), AttentionInputs.of(
            tensor(intArrayOf(1, 1, 1, 1), 5.0), tensor(intArrayOf(1, 1, 1, 1), 7.0), tensor(intArrayOf(1, 1, 1, 3), 1.0, -2.0, 3.0)))
        o.out().toDoubleArray().toList() shouldBe listOf(1.0, -2.0, 3.0)
        o.lseAt(0, 0, 0) shouldBe 35.0
    }

    "query head h reads KV head h / (qHeads / kvHeads)" {
        // one key per KV head, so each query head's out is its KV head's value exactly
        val o = ReferenceAttention.attend(AttentionSpec.of(6, 3, 1), AttentionInputs.of(
            DoubleTensor.zeros(1, 6, 1, 1), DoubleTensor.zeros(1, 3, 1, 1), tensor(intArrayOf(1, 3, 1, 1), 10.0, 20.0, 30.0)))
        o.out().toDoubleArray().toList() shouldBe listOf(10.0, 10.0, 20.0, 20.0, 30.0, 30.0)
    }

    "large scores do not overflow" {
        // scores [0, 1000, 2000]: e^2000 overflows a double unless the max is subtracted
        val o = ReferenceAttention.attend(AttentionSpec.builder(1, 1, 1).scale(1000.0).build(), AttentionInputs.of(q, k, v))
        o.outAt(0, 0, 0, 0) shouldBe (4.0 plusOrMinus 1e-12)
        o.lseAt(0, 0, 0) shouldBe (2000.0 plusOrMinus 1e-9)
    }

    "float32 inputs are widened exactly" {
        val rnd = Random(7)
        val f = { n: Int, shape: IntArray -> FloatTensor.of(FloatArray(n) { rnd.nextGaussian().toFloat() }, *shape) }
        val qf = f(2 * 4 * 3 * 5, intArrayOf(2, 4, 3, 5))
        val kf = f(2 * 2 * 4 * 5, intArrayOf(2, 2, 4, 5))
        val vf = f(2 * 2 * 4 * 3, intArrayOf(2, 2, 4, 3))
        val spec = AttentionSpec.builder(4, 2, 5).vHeadDim(3).causal().build()
        val fromFloat = ReferenceAttention.attend(spec, AttentionInputs.of(qf, kf, vf))
        val fromDouble = ReferenceAttention.attend(spec, AttentionInputs.of(DoubleTensor.copyOf(qf), DoubleTensor.copyOf(kf), DoubleTensor.copyOf(vf)))
        fromFloat.out().toDoubleArray().toList() shouldBe fromDouble.out().toDoubleArray().toList()
        (fromFloat.out() is DoubleTensor) shouldBe true
        (fromFloat.lse() is DoubleTensor) shouldBe true
    }

    "strided (permuted) inputs read the same as contiguous ones" {
        val rnd = Random(8)
        val qNhd = randomTensor(rnd, 1, 3, 2, 4)                          // [B, L, H, D]
        val kNhd = randomTensor(rnd, 1, 5, 2, 4)
        val vNhd = randomTensor(rnd, 1, 5, 2, 4)
        val spec = AttentionSpec.of(2, 2, 4)
        val viewed = ReferenceAttention.attend(spec, AttentionInputs.of(qNhd.permute(0, 2, 1, 3), kNhd.permute(0, 2, 1, 3), vNhd.permute(0, 2, 1, 3)))
        val copied = ReferenceAttention.attend(spec, AttentionInputs.of(qNhd.permute(0, 2, 1, 3).copy(), kNhd.permute(0, 2, 1, 3).copy(), vNhd.permute(0, 2, 1, 3).copy()))
        viewed.out().toDoubleArray().toList() shouldBe copied.out().toDoubleArray().toList()
    }

    "zero-length q_len or kv_len" {
        val spec = AttentionSpec.builder(2, 1, 3).causal().build()
        val noQ = ReferenceAttention.attend(spec, AttentionInputs.of(DoubleTensor.zeros(2, 2, 0, 3), DoubleTensor.zeros(2, 1, 4, 3), DoubleTensor.zeros(2, 1, 4, 3)))
        noQ.out().shape().toList() shouldBe listOf(2, 2, 0, 3)
        noQ.lse().shape().toList() shouldBe listOf(2, 2, 0)
        val noK = ReferenceAttention.attend(spec, AttentionInputs.of(randomTensor(Random(1), 2, 2, 3, 3), DoubleTensor.zeros(2, 1, 0, 3), DoubleTensor.zeros(2, 1, 0, 3))
            .withSinks(tensor(intArrayOf(2), -1.0, 2.0)).withMask(BoolTensor.of(BooleanArray(0), 3, 0)).withBias(DoubleTensor.zeros(1, 0)))
        noK.out().toDoubleArray().all { it == 0.0 } shouldBe true
        noK.out().shape().toList() shouldBe listOf(2, 2, 3, 3)
        noK.lse().getDouble(1, 0, 2) shouldBe -1.0
        noK.lse().getDouble(0, 1, 0) shouldBe 2.0
    }

    // ---------------------------------------------------------------------------------------------------------
    // Metamorphic checks: relations between two calls that must hold whatever the exact numbers are.
    // ---------------------------------------------------------------------------------------------------------

    "GQA equals MHA with K/V repeated per query head" {
        val rnd = Random(11)
        for (trial in 0 until 6) {
            val b = 1 + rnd.nextInt(2)
            val kvHeads = 1 + rnd.nextInt(3)
            val group = 1 + rnd.nextInt(3)
            val qHeads = kvHeads * group
            val lq = 1 + rnd.nextInt(5)
            val lk = 1 + rnd.nextInt(7)
            val d = 1 + rnd.nextInt(6)
            val qq = randomTensor(rnd, b, qHeads, lq, d)
            val kk = randomTensor(rnd, b, kvHeads, lk, d)
            val vv = randomTensor(rnd, b, kvHeads, lk, d + 1)
            val bias = randomTensor(rnd, qHeads, lq, lk)
            val mask = randomMask(rnd, b, 1, lq, lk)
            val slopes = randomTensor(rnd, qHeads)
            val sinks = randomTensor(rnd, qHeads)
            val lens = IntArray(b) { rnd.nextInt(lk + 1) }
            val gqa = AttentionSpec.builder(qHeads, kvHeads, d).vHeadDim(d + 1).causal(rnd.nextBoolean())
                .window(Window(rnd.nextInt(4) - 1, rnd.nextInt(4) - 1)).softcap(if (trial % 2 == 0) 0.0 else 3.0).build()
            val mha = AttentionSpec(qHeads, qHeads, d, d + 1, gqa.scale(), gqa.causal(), gqa.alignment(), gqa.window(), gqa.softcap())
            val kRep = DoubleTensor.zeros(b, qHeads, lk, d)
            val vRep = DoubleTensor.zeros(b, qHeads, lk, d + 1)
            for (x in 0 until b) for (h in 0 until qHeads) for (j in 0 until lk) {
                for (c in 0 until d) kRep.set(kk.get(x, h / group, j, c), x, h, j, c)
                for (c in 0..d) vRep.set(vv.get(x, h / group, j, c), x, h, j, c)
            }
            val a = ReferenceAttention.attend(gqa, AttentionInputs(qq, kk, vv, bias, mask, slopes, sinks, null).withKvLens(*lens))
            val m = ReferenceAttention.attend(mha, AttentionInputs(qq, kRep, vRep, bias, mask, slopes, sinks, null).withKvLens(*lens))
            shouldBeClose(a.out().toDoubleArray(), m.out().toDoubleArray())
            shouldBeClose(a.lse().toDoubleArray(), m.lse().toDoubleArray())
        }
    }

    "splitting the keys in two and merging by LSE equals the whole" {
        val rnd = Random(12)
        for (trial in 0 until 6) {
            val b = 1 + rnd.nextInt(2)
            val lq = 1 + rnd.nextInt(5)
            val lk = 2 + rnd.nextInt(7)
            val split = 1 + rnd.nextInt(lk - 1)
            val spec = AttentionSpec.builder(4, 2, 3).causal(trial % 2 == 0).window(if (trial % 3 == 0) Window(2, 1) else Window.NONE)
                .softcap(if (trial == 1) 1.5 else 0.0).build()
            val base = AttentionInputs(randomTensor(rnd, b, 4, lq, 3), randomTensor(rnd, b, 2, lk, 3), randomTensor(rnd, b, 2, lk, 3),
                randomTensor(rnd, b, 4, lq, lk), null, randomTensor(rnd, 4), null, null)
            val keep = randomMask(rnd, b, 4, lq, lk)
            fun restricted(low: Boolean): BoolTensor {
                val m = BooleanArray(keep.elementCount())
                val src = keep.toDoubleArray()
                for (n in m.indices) m[n] = src[n] != 0.0 && ((n % lk < split) == low)
                return BoolTensor.of(m, b, 4, lq, lk)
            }
            val whole = ReferenceAttention.attend(spec, base.withMask(keep))
            val first = ReferenceAttention.attend(spec, base.withMask(restricted(true)))
            val second = ReferenceAttention.attend(spec, base.withMask(restricted(false)))
            val merged = mergeByLse(first, second, 3)
            shouldBeClose(merged.first, whole.out().toDoubleArray())
            shouldBeClose(merged.second, whole.lse().toDoubleArray())
        }
        // the first half by kv_lens instead of a mask (no causal: kv_lens would move the diagonal)
        val spec = AttentionSpec.of(2, 1, 4)
        val base = AttentionInputs.of(randomTensor(rnd, 1, 2, 3, 4), randomTensor(rnd, 1, 1, 6, 4), randomTensor(rnd, 1, 1, 6, 4))
        val firstHalf = BoolTensor.of(BooleanArray(6) { it < 2 }, 6)
        val secondHalf = BoolTensor.of(BooleanArray(6) { it >= 2 }, 6)
        val merged = mergeByLse(ReferenceAttention.attend(spec, base.withKvLens(2)), ReferenceAttention.attend(spec, base.withMask(secondHalf)), 4)
        shouldBeClose(merged.first, ReferenceAttention.attend(spec, base).out().toDoubleArray())
        shouldBeClose(ReferenceAttention.attend(spec, base.withKvLens(2)).out().toDoubleArray(),
            ReferenceAttention.attend(spec, base.withMask(firstHalf)).out().toDoubleArray())
    }

    "adding a constant to a whole bias row leaves out unchanged and shifts lse by it" {
        val rnd = Random(13)
        val spec = AttentionSpec.builder(3, 1, 4).vHeadDim(2).causal().softcap(2.0).build()
        val inputs = AttentionInputs.of(randomTensor(rnd, 2, 3, 4, 4), randomTensor(rnd, 2, 1, 5, 4), randomTensor(rnd, 2, 1, 5, 2))
            .withAlibiSlopes(randomTensor(rnd, 3)).withMask(randomMask(rnd, 2, 3, 4, 5)).withKvLens(5, 3)
        val bias = randomTensor(rnd, 2, 3, 4, 5)
        val shifts = DoubleArray(2 * 3 * 4) { 10 * rnd.nextGaussian() }         // one constant per (b, h, i) row
        val shifted = DoubleTensor.zeros(2, 3, 4, 5)
        for (b in 0 until 2) for (h in 0 until 3) for (i in 0 until 4) for (j in 0 until 5) {
            shifted.set(bias.get(b, h, i, j) + shifts[(b * 3 + h) * 4 + i], b, h, i, j)
        }
        val o = ReferenceAttention.attend(spec, inputs.withBias(bias))
        val s = ReferenceAttention.attend(spec, inputs.withBias(shifted))
        shouldBeClose(s.out().toDoubleArray(), o.out().toDoubleArray())
        val lse = o.lse().toDoubleArray()
        shouldBeClose(s.lse().toDoubleArray(), DoubleArray(lse.size) { lse[it] + shifts[it] }, 1e-11)
    }

    "permuting the keys together with the mask and bias leaves out unchanged" {
        val rnd = Random(14)
        for (trial in 0 until 4) {
            val lk = 2 + rnd.nextInt(8)
            val perm = (0 until lk).shuffled(kotlin.random.Random(trial))
            val spec = AttentionSpec.builder(4, 2, 3).vHeadDim(2).softcap(if (trial % 2 == 0) 0.0 else 2.5).build()
            val qq = randomTensor(rnd, 2, 4, 3, 3)
            val kk = randomTensor(rnd, 2, 2, lk, 3)
            val vv = randomTensor(rnd, 2, 2, lk, 2)
            val mask = randomMask(rnd, 2, 4, 3, lk)
            val bias = randomTensor(rnd, 3, lk)
            val sinks = randomTensor(rnd, 4)
            // new key j is old key perm[j]
            val kp = DoubleTensor.zeros(2, 2, lk, 3)
            val vp = DoubleTensor.zeros(2, 2, lk, 2)
            for (b in 0 until 2) for (h in 0 until 2) for (j in 0 until lk) {
                for (c in 0 until 3) kp.set(kk.get(b, h, perm[j], c), b, h, j, c)
                for (c in 0 until 2) vp.set(vv.get(b, h, perm[j], c), b, h, j, c)
            }
            val mp = BooleanArray(2 * 4 * 3 * lk)
            for (b in 0 until 2) for (h in 0 until 4) for (i in 0 until 3) for (j in 0 until lk) {
                mp[((b * 4 + h) * 3 + i) * lk + j] = mask.get(b, h, i, perm[j])
            }
            val bp = DoubleTensor.zeros(3, lk)
            for (i in 0 until 3) for (j in 0 until lk) bp.set(bias.get(i, perm[j]), i, j)
            val o = ReferenceAttention.attend(spec, AttentionInputs(qq, kk, vv, bias, mask, null, sinks, null))
            val p = ReferenceAttention.attend(spec, AttentionInputs(qq, kp, vp, bp, BoolTensor.of(mp, 2, 4, 3, lk), null, sinks, null))
            shouldBeClose(p.out().toDoubleArray(), o.out().toDoubleArray())
            shouldBeClose(p.lse().toDoubleArray(), o.lse().toDoubleArray())
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Bad input: AttentionException naming the argument, nothing computed.
    // ---------------------------------------------------------------------------------------------------------

    "bad input is an AttentionException naming the argument" {
        val spec = AttentionSpec.of(4, 2, 3)
        val qq = DoubleTensor.zeros(1, 4, 2, 3)
        val kk = DoubleTensor.zeros(1, 2, 5, 3)
        val vv = DoubleTensor.zeros(1, 2, 5, 3)
        fun arg(block: () -> Unit) = shouldThrow<AttentionException> { block() }.argument()
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(DoubleTensor.zeros(4, 2, 3), kk, vv)) } shouldBe "q.rank"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, DoubleTensor.zeros(1, 4, 5, 3), vv)) } shouldBe "k.shape"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, DoubleTensor.zeros(1, 2, 4, 3))) } shouldBe "v.shape"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(DoubleTensor.zeros(1, 4, 2, 2), kk, vv)) } shouldBe "q.shape"
        arg { AttentionSpec.of(4, 3, 3) } shouldBe "kvHeads"
        shouldThrow<AttentionException> { AttentionSpec.of(4, 3, 3) }.message shouldBe "kvHeads: expected a divisor of qHeads=4, got 3"
        val nanK = DoubleTensor.zeros(1, 2, 5, 3).also { it.set(Double.NaN, 0, 1, 4, 2) }
        shouldThrow<AttentionException> { ReferenceAttention.attend(spec, AttentionInputs.of(qq, nanK, vv)) }.message shouldBe
            "k[0, 1, 4, 2]: expected a finite value, got NaN"
        shouldThrow<AttentionException> { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, vv).withKvLens(6)) }.message shouldBe
            "kvLens[0]: expected in [0, 5], got 6"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, vv).withKvLens(-1)) } shouldBe "kvLens[0]"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, vv).withBias(DoubleTensor.zeros(3, 5))) } shouldBe "bias.shape"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, vv).withSinks(DoubleTensor.zeros(2))) } shouldBe "sinks.shape"
        arg { ReferenceAttention.attend(spec, AttentionInputs.of(qq, kk, vv).withAlibiSlopes(DoubleTensor.zeros(4, 1))) } shouldBe "alibiSlopes.shape"
        arg { ReferenceAttention.attend(null, AttentionInputs.of(qq, kk, vv)) } shouldBe "spec"
        arg { ReferenceAttention.attend(spec, null) } shouldBe "inputs"
    }
})

/**
 * Merges two partial attentions over disjoint key sets (out [.., vHeadDim], lse [..]) the way split-KV kernels do:
 * lse = ln(e^lse1 + e^lse2), out = out1 e^(lse1 - lse) + out2 e^(lse2 - lse). Written here, independently of the
 * code under test. Rows empty in both halves stay out 0, lse -inf.
 */
private fun mergeByLse(a: AttentionOutput, b: AttentionOutput, vHeadDim: Int): Pair<DoubleArray, DoubleArray> {
    val la = a.lse().toDoubleArray()
    val lb = b.lse().toDoubleArray()
    val oa = a.out().toDoubleArray()
    val ob = b.out().toDoubleArray()
    val out = DoubleArray(oa.size)
    val lse = DoubleArray(la.size)
    for (r in la.indices) {
        val m = max(la[r], lb[r])
        if (m == Double.NEGATIVE_INFINITY) {
            lse[r] = m
            continue
        }
        lse[r] = m + ln(exp(la[r] - m) + exp(lb[r] - m))
        val wa = exp(la[r] - lse[r])
        val wb = exp(lb[r] - lse[r])
        for (c in 0 until vHeadDim) out[r * vHeadDim + c] = oa[r * vHeadDim + c] * wa + ob[r * vHeadDim + c] * wb
    }
    return out to lse
}
