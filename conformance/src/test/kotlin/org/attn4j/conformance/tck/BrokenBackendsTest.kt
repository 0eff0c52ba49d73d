package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldNotBeEmpty
import org.attn4j.conformance.tck.broken.BrokenBackend
import org.attn4j.conformance.tck.broken.Bug

/**
 * Proof that the TCK can fail: on each deliberately broken backend (one classic bug each) the same checks, run
 * as plain functions with the default iteration count, report a failure; and on the same code without a bug
 * (the control) they report none.
 */
class BrokenBackendsTest : FunSpec({
    val base = TckConfig.fromSystemProperties().copy(reportFile = null)

    test("control: the bug-free float32 backend built like the broken ones passes every check (hooks and reduced storage skipped: it declines them)") {
        val report = AttentionTck.run(BrokenBackend(Bug.NONE), base, record = false)
        report.failures.forEach { println(it.report(report.backend)) }
        report.failures.shouldBeEmpty()
        // ... and the reduced-storage checks: it declares no reduced type (AttentionBackend.supportStorage's default).
        report.skipped.map { it.check }.toSet() shouldBe setOf("kernel/score-mod", "kernel/mask-mod", "kernel/score-and-mask-mod",
            "meta/reduced-storage-equals-float32", "kernel/decode-reduced-contiguous-cache", "kernel/decode-reduced-paged-cache",
            "layer/reduced-kv-cache", "layer/mla-reduced-kv-cache", "kernel/boundary-reduced-storage")
    }

    for (bug in Bug.entries - Bug.NONE) {
        test("the TCK catches: ${bug.description}") {
            val report = AttentionTck.run(BrokenBackend(bug), base.copy(stopAtFirstFailure = true), record = false)
            val failure = report.failures.firstOrNull()
            println("[attn4j-tck] ${bug.name}: " + (failure?.let { "caught by ${it.check} after ${report.results.size} checks, " +
                "case #${it.casesRun}; shrunk: ${it.shrunk}; ${it.message.lineSequence().first()}" } ?: "NOT CAUGHT"))
            report.failures.shouldNotBeEmpty()
        }
    }
})
