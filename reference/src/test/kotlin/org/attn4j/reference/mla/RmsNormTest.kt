package org.attn4j.reference.mla

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionException
import kotlin.math.sqrt

class RmsNormTest : StringSpec({
    "normalises by the root mean square, then applies the gain (by hand)" {
        // x = [3, 4]: mean(x^2) = (9 + 16) / 2 = 12.5; rms = sqrt(12.5 + eps); gains [1, 2].
        val eps = 1e-6
        val x = doubleArrayOf(7.0, 3.0, 4.0)                       // offset 1
        RmsNorm.apply(x, 1, 2, doubleArrayOf(1.0, 2.0), eps)
        x[0] shouldBe 7.0
        x[1] shouldBe (3.0 / sqrt(12.5 + eps) plusOrMinus 1e-15)
        x[2] shouldBe (4.0 * 2.0 / sqrt(12.5 + eps) plusOrMinus 1e-15)
    }

    "a constant vector becomes the gain (up to eps)" {
        // x = [-2, -2, -2, -2]: mean(x^2) = 4, rms = 2 (eps 1e-300 is negligible), x / rms = -1.
        val x = DoubleArray(4) { -2.0 }
        RmsNorm.apply(x, 0, 4, doubleArrayOf(0.5, 1.0, 1.5, 2.0), 1e-300)
        x.toList() shouldBe listOf(-0.5, -1.0, -1.5, -2.0)
    }

    "eps keeps a zero vector at zero instead of NaN" {
        val x = DoubleArray(3)
        RmsNorm.apply(x, 0, 3, doubleArrayOf(1.0, 1.0, 1.0), 1e-6)
        x.toList() shouldBe listOf(0.0, 0.0, 0.0)
    }

    "a gain of the wrong length is rejected" {
        shouldThrow<AttentionException> { RmsNorm.apply(DoubleArray(3), 0, 3, DoubleArray(2), 1e-6) }.argument() shouldBe "weight.length"
    }
})
