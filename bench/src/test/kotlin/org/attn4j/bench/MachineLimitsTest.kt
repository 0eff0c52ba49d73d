package org.attn4j.bench

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeGreaterThanOrEqual
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe

class MachineLimitsTest : StringSpec({

    "a quick measurement gives positive finite limits" {
        val limits = MachineLimits.measure(Runtime.getRuntime().availableProcessors(), MachineLimits.Settings.quick())
        limits.fmaGflops() shouldBeGreaterThan 0.0
        limits.dramGBs() shouldBeGreaterThan 0.0
        limits.fmaGflops().isFinite() shouldBe true
        limits.dramGBs().isFinite() shouldBe true
        limits.lanes() shouldBeGreaterThan 0
    }

    // The wall time of a parallel pass can never be shorter than what one worker spent on its own share. With as many
    // busy workers as cores, clocking from the caller after the start barrier broke this (the caller ran late).
    "a parallel pass lasts at least as long as its longest worker" {
        val threads = Runtime.getRuntime().availableProcessors()
        repeat(30) {
            val spent = DoubleArray(threads)
            val wall = MachineLimits.parallelSeconds(threads) { t ->
                val t0 = System.nanoTime()
                var x = 0.0
                while (System.nanoTime() - t0 < 3_000_000) x += 1.0 // 3 ms of busy work
                spent[t] = (System.nanoTime() - t0) / 1e9
                x
            }
            wall shouldBeGreaterThanOrEqual spent.max()
        }
    }

    "a failing worker fails the measurement instead of hanging it" {
        val e = shouldThrow<IllegalStateException> {
            MachineLimits.parallelSeconds(2) { t -> if (t == 1) throw ArithmeticException("boom") else 1.0 }
        }
        e.cause!!.message shouldBe "boom"
    }

    // Hand-worked: x = 0.5 repeated 4096 times sums to 2048 exactly in float.
    "the bandwidth kernel really reads the buffer" {
        val a = FloatArray(4096) { 0.5f }
        MachineLimits.sum(a, 0, 4096) shouldBe 2048.0
        MachineLimits.sum(a, 1024, 2048) shouldBe 1024.0
    }
})
