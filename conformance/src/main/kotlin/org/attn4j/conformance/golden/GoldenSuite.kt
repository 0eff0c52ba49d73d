package org.attn4j.conformance.golden

import io.kotest.assertions.withClue
import io.kotest.core.factory.TestFactory
import io.kotest.core.spec.style.funSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionBackend
import java.nio.file.Path

/**
 * The golden cases as a Kotest spec factory: one test per case on one backend, the way each backend module (and a
 * third party) runs them in its own tests. A case the backend declines is a disabled test with its reasons printed,
 * never a pass; a run where every case was declined fails.
 *
 * ```
 * class MyBackendGoldenTest : FunSpec({ include(goldenCases(MyBackend())) })
 * ```
 *
 * Needs the Kotest runner on the test class path (attn4j-conformance declares it optional, so that it never
 * reaches a consumer that does not use Kotest); plain JUnit 5 users call [AttnGolden.dynamicTests] instead.
 *
 * @param dirs      folders searched for cases (default: this repository's `golden/`, or outside a checkout the cases in
 *                  attn4j-golden, see [GoldenDirs.project])
 * @param declinesNone  a shipped backend that claims every feature the cases use: any decline fails
 * @param required  the backend must be available here (`./run-tests` requires opencl once PoCL is installed);
 *                  otherwise an unavailable backend gives one disabled test with its reason
 */
fun goldenCases(
    backend: AttentionBackend,
    dirs: List<Path> = listOf(GoldenDirs.project()),
    declinesNone: Boolean = false,
    required: Boolean = GoldenDirs.requiredHere(backend.name()),
): TestFactory = funSpec {
    val name = backend.name()
    val unavailable = backend.unavailableReason()
    if (unavailable.isPresent) {
        if (!required) System.err.println("golden: backend '$name' is unavailable, SKIPPING its golden cases: ${unavailable.get()}")
        test("$name is available (required here: $required)").config(enabled = required) {
            withClue("backend '$name' is required here but unavailable") { unavailable.get() shouldBe "" }
        }
        return@funSpec
    }
    val cases = GoldenRunner.discover(dirs)
    // Run every case now, so that declined cases become disabled tests with their reasons, not passes.
    val results = cases.associateWith { GoldenRunner.run(it, backend) }
    val declined = results.filterValues { it.status == CaseResult.Status.SKIPPED }
    for ((dir, r) in declined) System.err.println("golden: '$name' declines ${label(dir)}: ${r.message}")
    test("$name: golden cases were found in $dirs") { cases.size shouldBeGreaterThan 0 }
    for ((dir, r) in results) {
        test("$name: ${label(dir)}").config(enabled = r.status != CaseResult.Status.SKIPPED) {
            withClue("${r.status}: ${r.message}") { r.status shouldBe CaseResult.Status.PASSED }
        }
    }
    test("$name ran cases, not only declined them") { (results.size - declined.size) shouldBeGreaterThan 0 }
    if (declinesNone) {
        test("$name declines none of the cases") { declined.keys.map(::label).shouldBeEmpty() }
    }
}

private fun label(dir: Path): String = "${dir.parent?.fileName}/${dir.fileName}"
