package org.attn4j.reference.mla

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionException
import kotlin.math.cos
import kotlin.math.sin

class RopeTest : StringSpec({
    // Hand-worked: width 4, theta 100, position 3. Pair 0 turns by 3 * 100^(-0/4) = 3 rad,
    // pair 1 by 3 * 100^(-2/4) = 3 * 0.1 = 0.3 rad; (a, b) -> (a cos - b sin, b cos + a sin).
    val c3 = cos(3.0); val s3 = sin(3.0); val c03 = cos(0.3); val s03 = sin(0.3)

    "interleaved pairs (0,1) and (2,3), rotated by hand" {
        val v = doubleArrayOf(9.0, 1.0, 2.0, 3.0, 4.0)          // offset 1: element 0 must stay untouched
        Rope.rotate(v, 1, 4, 3, 100.0, true)
        v[0] shouldBe 9.0
        v[1] shouldBe (1 * c3 - 2 * s3 plusOrMinus 1e-15)
        v[2] shouldBe (2 * c3 + 1 * s3 plusOrMinus 1e-15)
        v[3] shouldBe (3 * c03 - 4 * s03 plusOrMinus 1e-15)
        v[4] shouldBe (4 * c03 + 3 * s03 plusOrMinus 1e-15)
    }

    "half pairs (0,2) and (1,3), rotated by hand" {
        val v = doubleArrayOf(1.0, 2.0, 3.0, 4.0)
        Rope.rotate(v, 0, 4, 3, 100.0, false)
        v[0] shouldBe (1 * c3 - 3 * s3 plusOrMinus 1e-15)
        v[2] shouldBe (3 * c3 + 1 * s3 plusOrMinus 1e-15)
        v[1] shouldBe (2 * c03 - 4 * s03 plusOrMinus 1e-15)
        v[3] shouldBe (4 * c03 + 2 * s03 plusOrMinus 1e-15)
    }

    "position 0 is the identity and width 0 touches nothing" {
        val v = doubleArrayOf(1.0, -2.0, 3.5, 4.25)
        Rope.rotate(v, 0, 4, 0, 10000.0, true)
        v.toList() shouldBe listOf(1.0, -2.0, 3.5, 4.25)
        Rope.rotate(v, 2, 0, 7, 10000.0, false)
        v.toList() shouldBe listOf(1.0, -2.0, 3.5, 4.25)
    }

    "the dot product of two rotated vectors depends only on their distance (both pairings)" {
        for (interleaved in listOf(true, false)) {
            val q = doubleArrayOf(0.3, -1.2, 0.7, 2.0, -0.4, 0.9)
            val k = doubleArrayOf(1.1, 0.5, -0.8, 0.2, 1.7, -0.6)
            fun dotAt(pq: Long, pk: Long): Double {
                val a = q.copyOf(); val b = k.copyOf()
                Rope.rotate(a, 0, 6, pq, 500.0, interleaved)
                Rope.rotate(b, 0, 6, pk, 500.0, interleaved)
                return a.indices.sumOf { a[it] * b[it] }
            }
            dotAt(7, 4) shouldBe (dotAt(3, 0) plusOrMinus 1e-12)
            dotAt(12, 12) shouldBe (q.indices.sumOf { q[it] * k[it] } plusOrMinus 1e-12)
        }
    }

    "odd widths and negative positions are rejected" {
        shouldThrow<AttentionException> { Rope.rotate(DoubleArray(3), 0, 3, 1, 10000.0, true) }.argument() shouldBe "dim"
        shouldThrow<AttentionException> { Rope.rotate(DoubleArray(4), 0, 4, -1, 10000.0, true) }.argument() shouldBe "position"
    }
})
