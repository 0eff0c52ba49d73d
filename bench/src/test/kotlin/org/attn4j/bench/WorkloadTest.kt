package org.attn4j.bench

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import kotlin.math.sqrt

class WorkloadTest : StringSpec({

    "the standard shapes are docs/PERFORMANCE.md's table" {
        Workload.standard().map { it.name() } shouldBe listOf("P1", "P2", "D1", "D2", "M1")
        with(Workload.P1) {
            listOf(batch(), qHeads(), kvHeads(), headDim(), qLen(), kvLen()) shouldBe listOf(1, 32, 8, 128, 2048, 2048)
            causal() shouldBe true
        }
        with(Workload.P2) {
            listOf(batch(), qHeads(), kvHeads(), headDim(), qLen(), kvLen()) shouldBe listOf(1, 16, 16, 64, 1024, 1024)
            causal() shouldBe false
        }
        with(Workload.D1) { listOf(batch(), qHeads(), kvHeads(), headDim(), qLen(), kvLen()) shouldBe listOf(1, 32, 8, 128, 1, 16384) }
        with(Workload.D2) { listOf(batch(), qHeads(), kvHeads(), headDim(), qLen(), kvLen()) shouldBe listOf(8, 32, 8, 128, 1, 4096) }
        with(Workload.M1) {
            listOf(qHeads(), kvHeads(), headDim(), vHeadDim(), kvLen()) shouldBe listOf(16, 1, 576, 512, 16384)
            mla().kvLoraRank() shouldBe 512
            mla().ropeDim() shouldBe 64
            mla().vHeadDim() shouldBe 128
        }
    }

    // Hand-worked: 4·B·Hq·L·L·D, halved for a causal square.
    "prefill FLOPs: P1 = 4·32·2048²·128 / 2 = 2^35, P2 = 4·16·1024²·64 = 2^32" {
        Workload.P1.flops() shouldBe 34_359_738_368.0
        Workload.P2.flops() shouldBe 4_294_967_296.0
        Workload.P1.unit() shouldBe "GFLOP/s"
        // 2^35 FLOP in 0.25 s = 137.4 GFLOP/s
        Workload.P1.rate(0.25) shouldBe (137.438953472 plusOrMinus 1e-9)
    }

    // Hand-worked: K+V bytes 4·B·Hkv·Lk·2D; the latent is 4·Lk·(512 + 64).
    "decode bytes: D1 = 4·8·16384·256 = 2^27, D2 = 4·8·8·4096·256 = 2^28, M1 = 4·16384·576" {
        Workload.D1.bytesRead() shouldBe 134_217_728.0
        Workload.D2.bytesRead() shouldBe 268_435_456.0
        Workload.M1.bytesRead() shouldBe 37_748_736.0
        Workload.D1.unit() shouldBe "GB/s"
        Workload.M1.unit() shouldBe "GB/s"
        Workload.D2.rate(0.01) shouldBe (26.8435456 plusOrMinus 1e-9)
    }

    "the MHA twin of D1 reads four times the bytes" {
        val mha = Workload.D1.withKvHeads("D1-MHA", 32)
        mha.bytesRead() shouldBe 4 * Workload.D1.bytesRead()
        mha.name() shouldBe "D1-MHA"
    }

    "MLA attends over the latent as one head with the scale of the decompressed width" {
        val spec = Workload.M1.spec()
        spec.kvHeads() shouldBe 1
        spec.headDim() shouldBe 576
        spec.vHeadDim() shouldBe 512
        spec.effectiveScale() shouldBe 1.0 / sqrt(192.0)
        Workload.D1.spec().causal() shouldBe false
    }

    "names are looked up case-insensitively; unknown names and bad shapes are AttentionExceptions" {
        Workload.byName("p2") shouldBe Workload.P2
        shouldThrow<AttentionException> { Workload.byName("Q9") }.message shouldContain "workload"
        shouldThrow<AttentionException> { Workload.prefill("X", 1, 6, 4, 8, 16, false) }.message shouldContain "kvHeads"
        shouldThrow<AttentionException> { Workload.D1.rate(0.0) }.message shouldContain "seconds"
        shouldThrow<AttentionException> {
            Workload("X", Workload.Kind.DECODE, 1, 2, 2, 8, 8, 3, 16, false, null)
        }.message shouldContain "qLen"
    }

    "tiny workloads keep each name's kind and head layout" {
        for (w in Workload.standard()) {
            val t = Workload.tiny(w.name())
            t.name() shouldBe w.name()
            t.kind() shouldBe w.kind()
            t.causal() shouldBe w.causal()
            (t.qHeads() == t.kvHeads()) shouldBe (w.qHeads() == w.kvHeads())
        }
    }

    "timing statistics: median of odd and even counts" {
        val t = Timing.of(3.0, 1.0, 2.0)
        listOf(t.min(), t.median(), t.max()) shouldBe listOf(1.0, 2.0, 3.0)
        Timing.of(4.0, 1.0, 3.0, 2.0).median() shouldBe 2.5
    }

    "warm-up runs at least the asked calls, and goes on for the asked time" {
        var calls = 0
        Timing.measure(2, 0.0, 3) { calls++ }.reps() shouldBe 3
        calls shouldBe 5
        calls = 0
        Timing.measure(0, 0.02, 1) { calls++; Thread.sleep(1) }
        (calls >= 2) shouldBe true // at least one warm-up call (time had not passed) plus the timed one
        shouldThrow<AttentionException> { Timing.measure(0, -1.0, 1) { } }.message shouldContain "warmupSeconds"
    }
})
