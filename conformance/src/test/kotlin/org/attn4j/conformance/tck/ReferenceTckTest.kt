package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.shouldBe
import org.attn4j.api.Backends

/**
 * The TCK on every backend `ServiceLoader` finds on this module's test class path (the reference, and the cpu and
 * opencl backends when present). Unavailable backends are reported as skipped with their reason. Writes the summary
 * table to `target/tck-report.md`.
 */
class AllBackendsTckTest : FunSpec({
    val config = TckConfig.fromSystemProperties()
    val backends = Backends.all()
    println("[attn4j-tck] backends found: " + backends.joinToString { "${it.name()} (${it.precision()}" +
        (it.unavailableReason().map { r -> ", unavailable: $r" }.orElse("")) + ")" } + "; seed ${config.seed}")

    test("ServiceLoader finds the reference backend") {
        backends.map { it.name() } shouldContain "reference"
    }

    // ATTN4J_REQUIRE (set by ./run-tests for what it installed) turns "unavailable, skipped" into a failure.
    val required = System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').filter { it.isNotBlank() }
    for (name in required.filter { it in backends.map { b -> b.name() } }) {
        test("required backend $name is available") {
            backends.first { it.name() == name }.unavailableReason().orElse("") shouldBe ""
        }
    }

    for (backend in backends) include(attentionTck(backend, config))

    afterSpec { TckSummary.publish(config) }
})
