package org.attn4j.conformance

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.conformance.tck.AttentionTck
import org.attn4j.conformance.tck.TckCheck
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.runAsTest
import org.attn4j.conformance.tck.TckReport
import org.attn4j.conformance.tck.TckResults
import org.attn4j.conformance.tck.TckSummary
import org.junit.jupiter.api.DynamicTest
import org.opentest4j.TestAbortedException
import java.nio.file.Files
import java.util.concurrent.atomic.AtomicInteger
import java.util.stream.Stream

/**
 * The TCK from plain Java and JUnit 5: one dynamic test per check.
 *
 * ```java
 * @TestFactory
 * Stream<DynamicTest> tck() {
 *     return AttnTck.forBackend(new MyBackend()).dynamicTests();
 * }
 * ```
 *
 * - a check the backend passes is a passed test (cases it declined are printed with its reasons);
 * - a check it declines entirely, or every check of an unavailable backend, is an aborted (skipped) test whose
 *   message is the backend's reasons;
 * - a failing check fails with the shrunk counterexample and the line that replays it
 *   (`-Dattn4j.tck.seed=... -Dattn4j.tck.checks=...`).
 *
 * The summary ([TckConfig.reportFile], `target/tck-report.md` by default) is rewritten after every check, so it is
 * there whichever way the run ends (a failure, an error in the backend, a run cut short), and printed once at the end.
 * The config defaults to [TckConfig.fromSystemProperties], so `-Dattn4j.tck.*` works from the command line.
 *
 * Needs `junit-jupiter-api` on the class path; attn4j-conformance declares it optional, so that the consumer's own
 * JUnit version is the one used.
 */
class AttnTck private constructor(private val backend: AttentionBackend, private val config: TckConfig) {

    /** The same backend with [config] (e.g. `TckConfig.builder().iterations(20).build()`). */
    fun config(config: TckConfig?): AttnTck {
        AttentionException.require(config != null, "config", "a TckConfig", "null")
        return AttnTck(backend, config!!)
    }

    /** The config in use. */
    fun config(): TckConfig = config

    /** The checks [config] selects, in run order. */
    fun checks(): List<TckCheck> = AttentionTck.checks(config)

    /**
     * One [DynamicTest] per selected check, named `<backend>: <check>`. Each check runs when JUnit runs its test
     * (the stream is lazy), in order.
     */
    fun dynamicTests(): Stream<DynamicTest> {
        val name = backend.name()
        val checks = checks()
        val done = AtomicInteger()
        val unavailable = backend.unavailableReason().orElse(null)
        if (unavailable != null) TckResults.unavailable(backend, unavailable, checks)
        return checks.stream().map { check ->
            DynamicTest.dynamicTest("$name: ${check.name}") {
                try {
                    if (unavailable != null) throw TestAbortedException("backend '$name' is not available: $unavailable")
                    runAsTest(backend, check, config)
                } finally {
                    // Written on every path: the last check prints the table as well.
                    if (done.incrementAndGet() == checks.size) TckSummary.publish(config) else writeReport()
                }
            }
        }
    }

    /**
     * Runs every selected check now, without JUnit, records the results for the summary and writes the summary.
     * For callers that want the [TckReport] (e.g. to assert on it).
     */
    fun run(): TckReport = try {
        AttentionTck.run(backend, config, record = true)
    } finally {
        TckSummary.publish(config)
    }

    private fun writeReport() {
        val file = config.reportFile ?: return
        file.toAbsolutePath().parent?.let { Files.createDirectories(it) }
        Files.writeString(file, TckSummary.markdown(config))
    }

    companion object {
        /** The TCK for [backend], with [TckConfig.fromSystemProperties] (change it with [config]). */
        @JvmStatic
        fun forBackend(backend: AttentionBackend?): AttnTck {
            AttentionException.require(backend != null, "backend", "an AttentionBackend", "null")
            return AttnTck(backend!!, TckConfig.fromSystemProperties())
        }
    }
}
