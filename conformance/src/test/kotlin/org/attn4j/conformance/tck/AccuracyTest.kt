package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.DoubleTensor
import org.attn4j.api.Precision

/** The TCK's accuracy rule itself (the float32 oracle that feeds it is tested in `reference`). */
class AccuracyTest : FunSpec({
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
