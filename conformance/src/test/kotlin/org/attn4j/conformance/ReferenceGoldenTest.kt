package org.attn4j.conformance

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import org.attn4j.api.Backends
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.Fixtures
import org.attn4j.conformance.golden.GoldenRunner

/**
 * Every published golden case on every backend `ServiceLoader` finds on this module's test class path (reference,
 * cpu, opencl): a backend must pass each case whose features it claims. A case it declines is a disabled test with
 * the backend's reasons printed; a backend that is unavailable is skipped loudly, unless `ATTN4J_REQUIRE` names it
 * (`./run-tests` sets `opencl` whenever PoCL is installed) or `CI=true`: then it fails.
 */
class GoldenAllBackendsTest : FunSpec({
    val cases = GoldenRunner.discover(listOf(Fixtures.goldenDir))
    val required = System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').filter { it.isNotBlank() }.toSet()
    val ci = System.getenv("CI").equals("true", ignoreCase = true)

    test("the 83 published golden cases are found") { cases.size shouldBe 83 }

    for (backend in Backends.all()) {
        val name = backend.name()
        val unavailable = backend.unavailableReason()
        if (unavailable.isPresent) {
            val mustRun = name in required || (ci && name == "opencl")
            if (!mustRun) System.err.println("conformance: backend '$name' is unavailable, SKIPPING its golden cases: ${unavailable.get()}")
            test("$name is available (required: $mustRun)").config(enabled = mustRun) {
                withClue("backend '$name' is required here but unavailable") { unavailable.get() shouldBe "" }
            }
            continue
        }
        // Run every case now, so that declined cases become disabled tests with their reasons, not passes.
        val results = cases.associateWith { GoldenRunner.run(it, backend) }
        val declined = results.filterValues { it.status == CaseResult.Status.SKIPPED }
        for ((dir, r) in declined) {
            System.err.println("conformance: '$name' declines ${dir.parent.fileName}/${dir.fileName}: ${r.message}")
        }
        context("golden cases on $name") {
            for ((dir, r) in results) {
                test("${dir.parent.fileName}/${dir.fileName}").config(enabled = r.status != CaseResult.Status.SKIPPED) {
                    withClue("${r.status}: ${r.message}") { r.status shouldBe CaseResult.Status.PASSED }
                }
            }
            test("$name ran cases, not only declined them") {
                (results.size - declined.size) shouldBeGreaterThan 0
            }
            if (name in setOf("reference", "cpu", "opencl")) {
                // The shipped backends claim every feature the public cases use: a new decline is a regression.
                test("$name, a shipped backend, declines none of the public cases") {
                    declined.keys.map { "${it.parent.fileName}/${it.fileName}" }.shouldBeEmpty()
                }
            }
        }
    }
})
