package org.attn4j.cli.run

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import org.attn4j.dsl.script.AttnScripts
import java.nio.file.Files
import java.nio.file.Path
import kotlin.io.path.name

/**
 * Runs every script in `examples/` (in this one JVM: the Kotlin compiler warms up once) with the conformance
 * checker `attn run` gives scripts, and requires every expectation to pass. Not-run expectations fail the test too:
 * the CPU backend is on the class path, so a check that cannot run means a backend declined something the examples
 * promise (or the checker was not wired).
 */
class ExamplesTest : FunSpec({
    val dir = Path.of(System.getProperty("attn4j.examples", "../examples")).toAbsolutePath().normalize()
    val scripts = Files.list(dir).use { s -> s.filter { it.name.endsWith(".attn.kts") }.sorted().toList() }

    test("the examples cover every variant of the source articles") {
        scripts.map { it.name } shouldContainAll listOf(
            "mha.attn.kts", "mqa.attn.kts", "gqa.attn.kts", "mla.attn.kts", "cross-attention.attn.kts",
            "padding-masks.attn.kts", "kv-cache-decoding.attn.kts", "cost-table.attn.kts", "kv-dtypes.attn.kts",
        )
    }

    for (script in scripts) {
        test("examples/${script.name}: every expectation passes") {
            val report = AttnScripts.run(script, ConformanceChecker.INSTANCE)
            report.problems.map { it.toString() }.shouldBeEmpty()
            report.results.size shouldBeGreaterThan 0
            report.results.filter { it.status != org.attn4j.dsl.script.Status.PASSED }
                .map { "${it.status} ${it.description}: ${it.detail} (line ${it.line})" }.shouldBeEmpty()
            report.ok shouldBe true
        }
    }
})
