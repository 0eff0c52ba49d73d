package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.property.RandomSource
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.sqrt

/**
 * The float32 evaluation that sizes the TCK's tolerance must itself be right: a wrong Naive32 would make every
 * tolerance loose. It is checked by hand and against the float64 reference (never against itself).
 */
class Naive32Test : FunSpec({
    test("hand-worked: one query over two keys") {
        // q = [1, 0], k0 = [1, 0], k1 = [0, 1], scale = 1/sqrt(2): scores [1/sqrt(2), 0].
        // p0 = e^s0 / (e^s0 + 1); out = p0 [1, 2] + (1 - p0) [3, 4]; lse = ln(e^s0 + 1). Worked out here in double.
        val s0 = 1 / sqrt(2.0)
        val p0 = exp(s0) / (exp(s0) + 1)
        val o = Naive32.attend(AttentionSpec.of(1, 1, 2), AttentionInputs.of(
            FloatTensor.of(floatArrayOf(1f, 0f), 1, 1, 1, 2),
            FloatTensor.of(floatArrayOf(1f, 0f, 0f, 1f), 1, 1, 2, 2),
            FloatTensor.of(floatArrayOf(1f, 2f, 3f, 4f), 1, 1, 2, 2)))
        o.out().getDouble(0, 0, 0, 0) shouldBe (p0 * 1 + (1 - p0) * 3 plusOrMinus 1e-6)
        o.out().getDouble(0, 0, 0, 1) shouldBe (p0 * 2 + (1 - p0) * 4 plusOrMinus 1e-6)
        o.lse()!!.getDouble(0, 0, 0) shouldBe (ln(exp(s0) + 1) plusOrMinus 1e-6)
    }

    test("hand-worked: a row that sees no key gives 0 and lse -inf, or the sink") {
        val spec = AttentionSpec.builder(1, 1, 1).causal().alignment(org.attn4j.api.Alignment.TOP_LEFT).build()
        // Lq = 1, Lk = 0: nothing to see.
        val none = AttentionInputs.of(FloatTensor.of(floatArrayOf(1f), 1, 1, 1, 1), FloatTensor.zeros(1, 1, 0, 1), FloatTensor.zeros(1, 1, 0, 1))
        Naive32.attend(spec, none).out().getDouble(0, 0, 0, 0) shouldBe 0.0
        Naive32.attend(spec, none).lse()!!.getDouble(0, 0, 0) shouldBe Double.NEGATIVE_INFINITY
        Naive32.attend(spec, none.withSinks(FloatTensor.of(floatArrayOf(0.5f), 1))).lse()!!.getDouble(0, 0, 0) shouldBe 0.5
    }

    test("Naive32 stays within float32 error of the float64 reference on every kind of case") {
        val rs = RandomSource.seeded(11)
        // Moderate score magnitudes: there float32 error is a few ulps; a wrong step (order, sign, mapping) is not.
        val profile = KernelGenes.everything(0.4) + mapOf(KernelGene.SCORE_MAG to GenePool.only(0, 2, 3))
        val arb = KernelGenes.arb(profile, 1L shl 16)
        repeat(400) {
            val c = arb.sample(rs).value
            val ref = ReferenceAttention.attend(c.spec, c.inputs)
            val naive = Naive32.attend(c.spec, c.inputs)
            val r = ref.out().toDoubleArray()
            val n = naive.out().toDoubleArray()
            val mag = r.maxOfOrNull { abs(it) } ?: 0.0
            for (i in r.indices) if (abs(r[i] - n[i]) > 1e-4 * (1 + mag)) error("out[$i]: naive ${n[i]} vs ref ${r[i]} on $c")
            val rl = ref.lse().toDoubleArray()
            val nl = naive.lse()!!.toDoubleArray()
            for (i in rl.indices) {
                if (rl[i].isInfinite()) nl[i] shouldBe rl[i]
                else if (abs(rl[i] - nl[i]) > 1e-4 * (1 + abs(rl[i]))) error("lse[$i]: naive ${nl[i]} vs ref ${rl[i]} on $c")
            }
        }
    }

    test("Naive32 layers stay within float32 error of the float64 reference layers (MHA/MQA/GQA and MLA)") {
        val rs = RandomSource.seeded(12)
        val reference = ReferenceBackend()
        val std = StandardLayerCase.arb(mapOf(StandardLayerGene.CROSS to KernelGenes.sometimes(2, 0.5), StandardLayerGene.KEY_PAD to KernelGenes.sometimes(2, 0.5)))
        repeat(60) {
            val c = std.sample(rs).value
            val a = c.activations
            val ref = reference.planLayer(c.config, c.weights, PlanOptions.defaults()).forward(a.x, a.kvX, a.keyPaddingMask)
            close(Naive32.standardLayer(c.config, c.weights, a.x, a.kvX, a.keyPaddingMask), ref, c.toString())
        }
        val mla = MlaLayerCase.arb(emptyMap())
        repeat(60) {
            val c = mla.sample(rs).value
            val a = c.activations
            val ref = reference.planLayer(c.config, c.weights, PlanOptions.defaults()).forward(a.x, null, a.keyPaddingMask)
            close(Naive32.mlaLayer(c.config, c.weights, a.x, a.keyPaddingMask), ref, c.toString())
        }
    }

    test("the accuracy rule: FlashAttention's bound, infinities must match, NaN never passes") {
        val ref = DoubleTensor.of(doubleArrayOf(1.0, Double.NEGATIVE_INFINITY), 2)
        val naive = DoubleTensor.of(doubleArrayOf(1.0 + 1e-7, Double.NEGATIVE_INFINITY), 2)
        fun actual(x: Double, y: Double) = DoubleTensor.of(doubleArrayOf(x, y), 2)
        // allowed = 2 * 1e-7 + 1e-6 * 1 (+ a denormal) = 1.2e-6
        Accuracy.compare("t", actual(1 + 1.1e-6, Double.NEGATIVE_INFINITY), ref, naive, Precision.FLOAT32).passed shouldBe true
        Accuracy.compare("t", actual(1 + 1.3e-6, Double.NEGATIVE_INFINITY), ref, naive, Precision.FLOAT32).detail!! shouldContain "t: max |backend - ref64|"
        Accuracy.compare("t", actual(1.0, 0.0), ref, naive, Precision.FLOAT32).detail!! shouldContain "t[1]: expected -Infinity"
        Accuracy.compare("t", actual(Double.NaN, Double.NEGATIVE_INFINITY), ref, naive, Precision.FLOAT32).detail!! shouldContain "got NaN"
        Accuracy.compare("t", DoubleTensor.zeros(3), ref, naive, Precision.FLOAT32).detail!! shouldContain "t.shape"
        // float64: 1e-9 relative to max(1, |ref|)
        Accuracy.compare("t", actual(1 + 5e-10, Double.NEGATIVE_INFINITY), ref, null, Precision.FLOAT64).passed shouldBe true
        Accuracy.compare("t", actual(1 + 2e-9, Double.NEGATIVE_INFINITY), ref, null, Precision.FLOAT64).passed shouldNotBe true
    }
})

private fun close(naive: FloatTensor, ref: org.attn4j.api.Tensor, case: String) {
    val r = ref.toDoubleArray()
    val n = naive.toDoubleArray()
    val mag = r.maxOfOrNull { abs(it) } ?: 0.0
    for (i in r.indices) if (abs(r[i] - n[i]) > 1e-3 * (1 + mag)) error("y[$i]: naive ${n[i]} vs ref ${r[i]} on $case")
}
