package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
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

    // Hand-worked: x = 0.5 repeated 4096 times sums to 2048 exactly in float.
    "the bandwidth kernel really reads the buffer" {
        val a = FloatArray(4096) { 0.5f }
        MachineLimits.sum(a, 0, 4096) shouldBe 2048.0
        MachineLimits.sum(a, 1024, 2048) shouldBe 1024.0
    }
})
