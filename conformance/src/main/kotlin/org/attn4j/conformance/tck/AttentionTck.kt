package org.attn4j.conformance.tck

import io.kotest.core.factory.TestFactory
import io.kotest.core.spec.style.funSpec
import org.attn4j.api.AttentionBackend
import org.opentest4j.TestAbortedException

/**
 * The attention conformance suite (TCK): every check of [KernelChecks], [ModChecks], [CacheKindChecks], [DecodeContractChecks],
 * [BoundaryChecks], [MetamorphicChecks], [LayerChecks] and [StorageChecks] (reduced storage, last so the others keep their order).
 *
 * Two ways to run it:
 * - in Kotest, through the spec factory [attentionTck]: `class MyBackendTck : FunSpec({ include(attentionTck(MyBackend())) })`;
 * - as plain functions: `AttentionTck.run(backend)` returns a [TckReport] (this is how the suite proves, on
 *   deliberately broken backends, that it catches bugs).
 */
object AttentionTck {
    /** Every check, in run order: kernels against the reference (random, hooks, caches, boundary cases), metamorphic relations, layers, reduced storage. */
    val CHECKS: List<TckCheck> by lazy { KernelChecks.ALL + ModChecks.ALL + CacheKindChecks.ALL + DecodeContractChecks.ALL + BoundaryChecks.ALL + MetamorphicChecks.ALL + LayerChecks.ALL + LayerContractChecks.ALL + LayerRangeChecks.ALL + StorageChecks.ALL + EntryPointChecks.ALL + ResourceChecks.ALL }

    /** The checks [config] selects ([TckConfig.boundaries] off leaves out [BoundaryChecks]). */
    fun checks(config: TckConfig): List<TckCheck> =
        CHECKS.filter { config.selects(it.name) && (config.boundaries || !it.name.startsWith(BoundaryChecks.PREFIX)) }

    /**
     * Runs the selected checks on [backend], without Kotest's engine. An unavailable backend gives a report whose
     * every check is skipped with the reason. When [record] is set, results also go to [TckResults] for the
     * summary table.
     */
    @JvmStatic
    @JvmOverloads
    fun run(backend: AttentionBackend, config: TckConfig = TckConfig.fromSystemProperties(), record: Boolean = true): TckReport {
        val reason = backend.unavailableReason()
        if (reason.isPresent) {
            val skipped = checks(config).map { CheckResult.Skipped(it.name, mapOf("backend unavailable: ${reason.get()}" to 0)) }
            if (record) TckResults.unavailable(backend, reason.get(), checks(config))
            return TckReport(backend.name(), reason.get(), skipped)
        }
        val results = ArrayList<CheckResult>()
        for (check in checks(config)) {
            val r = check.run(backend, config)
            if (record) TckResults.record(backend, r)
            results += r
            if (config.stopAtFirstFailure && r is CheckResult.Failed) break
        }
        return TckReport(backend.name(), null, results)
    }

    /** The Kotest spec factory [attentionTck], under a name that reads well from Java. */
    @JvmStatic
    @JvmOverloads
    fun specFor(backend: AttentionBackend, config: TckConfig = TckConfig.fromSystemProperties()): TestFactory = attentionTck(backend, config)
}

/**
 * The TCK as a Kotest spec factory: one test per check, named `<backend>: <check>`. A failing check fails its
 * test with the seed and the shrunk case; a check the backend declines entirely is reported as skipped (aborted)
 * with the backend's reasons; an unavailable backend gives one skipped test with its reason. After the spec, the
 * summary table (check x backend) is printed and written to [TckConfig.reportFile].
 *
 * ```
 * class MyBackendTck : FunSpec({ include(attentionTck(MyBackend())) })
 * ```
 *
 * Needs the Kotest runner on the test class path (optional in attn4j-conformance); JUnit 5 users call
 * [org.attn4j.conformance.AttnTck] instead.
 */
fun attentionTck(backend: AttentionBackend, config: TckConfig = TckConfig.fromSystemProperties()): TestFactory = funSpec {
    val name = backend.name()
    afterSpec { TckSummary.publish(config) }
    val reason = backend.unavailableReason()
    if (reason.isPresent) {
        test("$name: available") {
            TckResults.unavailable(backend, reason.get(), AttentionTck.checks(config))
            throw TestAbortedException("backend '$name' is not available: ${reason.get()}")
        }
    } else {
        val checks = AttentionTck.checks(config)
        if (checks.isEmpty()) {
            // a filter that selects nothing must not end in a green run that checked nothing
            test("$name: attn4j.tck.checks selects a check") {
                throw AssertionError("attn4j.tck.checks=${config.checks.joinToString(",")} selects none of the " +
                    "${AttentionTck.CHECKS.size} checks (${AttentionTck.CHECKS.joinToString(", ") { it.name }})")
            }
        }
        for (check in checks) {
            test("$name: ${check.name}") { runAsTest(backend, check, config) }
        }
    }
}

/**
 * Runs [check] as one test of a test framework (Kotest's [attentionTck], JUnit's `AttnTck`): records the result for
 * the summary, prints it, fails on a failed check, aborts on a declined one and says so for a partial pass.
 */
internal fun runAsTest(backend: AttentionBackend, check: TckCheck, config: TckConfig) {
    val name = backend.name()
    val r = check.run(backend, config)
    TckResults.record(backend, r)
    println("[attn4j-tck] $name ${check.name}: ${r.cell}")
    when (r) {
        is CheckResult.Failed -> throw AssertionError(r.report(name))
        is CheckResult.Skipped -> throw TestAbortedException("declined by '$name': " +
            r.reasons.entries.joinToString("; ") { "${it.key} (${it.value} cases)" })
        is CheckResult.Passed -> if (r.partial) {
            // Not a failure, and not a full pass either: said on the console and in the summary table.
            println("[attn4j-tck] $name ${check.name}: PARTIAL SKIP, the backend declined most cases: " +
                r.declined.entries.joinToString("; ") { "${it.key} (${it.value} cases)" })
        }
    }
}

/** Every check's result on one backend. [unavailable] is the reason when the backend could not run at all. */
data class TckReport(val backend: String, val unavailable: String?, val results: List<CheckResult>) {
    val failures: List<CheckResult.Failed> get() = results.filterIsInstance<CheckResult.Failed>()
    val skipped: List<CheckResult.Skipped> get() = results.filterIsInstance<CheckResult.Skipped>()
    /** Full passes (partial skips excluded, see [partial]). */
    val passed: List<CheckResult.Passed> get() = results.filterIsInstance<CheckResult.Passed>().filter { !it.partial }

    /** Passes where the backend declined most cases ([CheckResult.Passed.partial]). */
    val partial: List<CheckResult.Passed> get() = results.filterIsInstance<CheckResult.Passed>().filter { it.partial }
}

/** Results of every backend run in this JVM, for the summary table. */
object TckResults {
    private val byBackend = LinkedHashMap<String, LinkedHashMap<String, CheckResult>>()
    private val unavailable = LinkedHashMap<String, String>()

    @Synchronized
    fun record(backend: AttentionBackend, result: CheckResult) {
        byBackend.getOrPut(backend.name()) { LinkedHashMap() }[result.check] = result
    }

    @Synchronized
    fun unavailable(backend: AttentionBackend, reason: String, checks: List<TckCheck>): TckReport {
        unavailable[backend.name()] = reason
        val results = checks.map { CheckResult.Skipped(it.name, mapOf("backend unavailable: $reason" to 0)) }
        byBackend[backend.name()] = LinkedHashMap(results.associateBy { it.check })
        return TckReport(backend.name(), reason, results)
    }

    /** A copy: backend name to its results in check order. */
    @Synchronized
    fun snapshot(): Map<String, List<CheckResult>> = byBackend.mapValues { it.value.values.toList() }

    @Synchronized
    fun unavailableReasons(): Map<String, String> = LinkedHashMap(unavailable)

    /** Forgets everything (tests of the TCK itself use this to keep their results apart). */
    @Synchronized
    fun clear() {
        byBackend.clear()
        unavailable.clear()
    }
}
