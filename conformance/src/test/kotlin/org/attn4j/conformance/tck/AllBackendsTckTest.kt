package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
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

    for (backend in backends) include(attentionTck(backend, config))

    afterSpec { TckSummary.publish(config) }
})
