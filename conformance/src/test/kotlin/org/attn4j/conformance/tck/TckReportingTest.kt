package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionProblem
import org.attn4j.api.Feature
import org.attn4j.api.LayerConfig
import org.attn4j.api.Support
import org.attn4j.reference.ReferenceBackend
import java.util.Optional

/** Skips are never silent, a backend that supports nothing cannot pass, and the summary says why. */
class TckReportingTest : FunSpec({
    val config = TckConfig(iterations = 6, reportFile = null, checks = listOf("kernel/basic", "kernel/sinks", "layer/mla-naive"))

    /** The reference, declining sinks and MLA (as a backend without them would). */
    class Picky : AttentionBackend by ReferenceBackend() {
        override fun name() = "picky"
        override fun support(problem: AttentionProblem): Support =
            if (Feature.SINKS in problem.features()) Support.no("SINKS: not implemented by picky") else Support.ok()
        override fun supportLayer(config: LayerConfig): Support =
            if (config is org.attn4j.api.MlaLayerConfig) Support.no("MLA: not implemented by picky") else Support.ok()
    }

    /** Declines everything. */
    class Nothing : AttentionBackend by ReferenceBackend() {
        override fun name() = "nothing"
        override fun support(problem: AttentionProblem): Support = Support.no("declines everything")
        override fun supportLayer(config: LayerConfig): Support = Support.no("declines everything")
    }

    class Unavailable : AttentionBackend by ReferenceBackend() {
        override fun name() = "gone"
        override fun unavailableReason(): Optional<String> = Optional.of("no device")
    }

    test("declined features are skipped with the backend's reasons, and listed in the summary") {
        val report = AttentionTck.run(Picky(), config, record = false)
        report.failures.shouldBeEmpty()
        report.skipped.map { it.check } shouldBe listOf("kernel/sinks", "layer/mla-naive")
        report.skipped[0].reasons.keys shouldBe setOf("SINKS: not implemented by picky")
        val md = TckSummary.markdown(config, mapOf("picky" to report.results), emptyMap())
        md shouldContain "| kernel/sinks | skipped: SINKS: not implemented by picky |"
        md shouldContain "- picky, layer/mla-naive: skipped: MLA: not implemented by picky (4 cases)"
    }

    test("a backend that declines everything fails the mandatory basic check") {
        val report = AttentionTck.run(Nothing(), config, record = false)
        report.failures shouldHaveSize 1
        report.failures[0].check shouldBe "kernel/basic"
        report.failures[0].message shouldContain "declined every case of a mandatory check: declines everything"
    }

    test("an unavailable backend is reported skipped, with its reason, on every check") {
        val report = AttentionTck.run(Unavailable(), config, record = false)
        report.unavailable shouldBe "no device"
        report.skipped shouldHaveSize 3
        val md = TckSummary.markdown(config, mapOf("gone" to report.results), mapOf("gone" to "no device"))
        md shouldContain "| gone (unavailable: no device) | 0 | 0 | 3 | 0 |"
    }

    test("a failure carries the seed, the shrunk case and a replay line") {
        val r = PropertyRunner.run("demo", KernelGenes.arb(emptyMap(), 1000), config, 20) { c ->
            if (c.kvLen > 3) CaseOutcome.Bad("too long") else CaseOutcome.Ok()
        }
        r.shouldBeInstanceOf<CheckResult.Failed>()
        r.report("x") shouldContain "replay:      -Dattn4j.tck.seed=${config.seed} -Dattn4j.tck.checks=demo"
        r.shrunk shouldContain "Lk=4"
    }

    test("a hang is a failure, not a stuck build") {
        val quick = config.copy(caseTimeout = java.time.Duration.ofMillis(200), maxShrinkSteps = 2)
        val r = PropertyRunner.run("hang", KernelGenes.arb(emptyMap(), 1000), quick, 3) { Thread.sleep(5_000); CaseOutcome.Ok() }
        r.shouldBeInstanceOf<CheckResult.Failed>()
        r.message shouldContain "timed out"
    }
})
