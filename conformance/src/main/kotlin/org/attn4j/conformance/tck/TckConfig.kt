package org.attn4j.conformance.tck

import java.nio.file.Path
import java.time.Duration

/**
 * How much the TCK runs and how it reports. Every field can also be set from the command line (Maven passes
 * `-D` user properties to surefire's forked JVM as system properties), see [fromSystemProperties]:
 *
 * | property | meaning | default |
 * |---|---|---|
 * | `attn4j.tck.seed` | base seed; `random` draws one (printed) | [DEFAULT_SEED] |
 * | `attn4j.tck.iterations` | cases per kernel check; layer checks run a quarter, reader fuzzing 20x | [DEFAULT_ITERATIONS] |
 * | `attn4j.tck.checks` | comma-separated substrings; only checks whose name contains one of them run | all |
 * | `attn4j.tck.maxCost` | cap on `B*Hq*Lq*Lk*(D+Dv)` per generated kernel case | [DEFAULT_MAX_COST] |
 * | `attn4j.tck.report` | the summary file | `target/tck-report.md` |
 * | `attn4j.tck.caseTimeoutSeconds` | a backend call that takes longer fails the case | 60 |
 * | `attn4j.tck.boundaries` | run the deterministic boundary cases ([BoundaryChecks]) | true |
 *
 * @property seed           base seed; each check derives its own from it and its name, so running a subset of checks
 *                          replays the same cases
 * @property iterations     generated cases per kernel check
 * @property checks         substrings selecting checks by name (empty = all)
 * @property maxCost        cap on the multiply-adds of one kernel case (`B*Hq*Lq*Lk*(D+Dv)`); generators shrink
 *                          lengths to stay below it
 * @property maxShrinkSteps how many smaller candidates the shrinker may try after a failure
 * @property caseTimeout    a backend call that runs longer fails the case (a hang is a bug)
 * @property stopAtFirstFailure stop the whole run after the first failing check (used to prove the TCK catches bugs quickly)
 * @property reportFile     where the summary table is written (null = console only)
 * @property boundaries     whether the deterministic cases at the backend's path sizes ([BoundaryChecks]) run
 */
data class TckConfig(
    val seed: Long = DEFAULT_SEED,
    val iterations: Int = DEFAULT_ITERATIONS,
    val checks: List<String> = emptyList(),
    val maxCost: Long = DEFAULT_MAX_COST,
    val maxShrinkSteps: Int = 300,
    val caseTimeout: Duration = Duration.ofSeconds(60),
    val stopAtFirstFailure: Boolean = false,
    val reportFile: Path? = Path.of("target", "tck-report.md"),
    val boundaries: Boolean = true,
) {
    init {
        require(iterations >= 1) { "attn4j.tck.iterations: expected >= 1, got $iterations" }
        require(maxCost >= 1) { "attn4j.tck.maxCost: expected >= 1, got $maxCost" }
    }

    /** Cases per layer check: layers cost more per case than kernels. */
    val layerIterations: Int get() = maxOf(4, iterations / 4)

    /** Corrupted documents per reader in the fuzz tests (2,000 by default, 100,000 with `iterations=5000`). */
    val fuzzInputs: Int get() = iterations * 20

    /** Whether the check named [name] is selected by [checks]. */
    fun selects(name: String): Boolean = checks.isEmpty() || checks.any { name.contains(it) }

    /** The seed of one check: the base seed mixed with the check's name, stable across runs and subsets. */
    fun seedFor(checkName: String): Long {
        var h = seed xor -0x61c8864680b583ebL
        for (c in checkName) h = (h xor c.code.toLong()) * 0x100000001b3L
        return h xor (h ushr 31)
    }

    /** A builder starting from this config (Java: `TckConfig.fromSystemProperties().toBuilder().iterations(20).build()`). */
    fun toBuilder(): Builder = Builder(this)

    /** Builds a [TckConfig] from Java without the 8-argument constructor; unset fields keep their defaults. */
    class Builder internal constructor(private var c: TckConfig) {
        fun seed(seed: Long) = apply { c = c.copy(seed = seed) }
        fun iterations(iterations: Int) = apply { c = c.copy(iterations = iterations) }
        /** Substrings selecting checks by name; none = every check. */
        fun checks(vararg substrings: String) = apply { c = c.copy(checks = substrings.toList()) }
        fun checks(substrings: List<String>) = apply { c = c.copy(checks = substrings.toList()) }
        fun maxCost(maxCost: Long) = apply { c = c.copy(maxCost = maxCost) }
        fun maxShrinkSteps(steps: Int) = apply { c = c.copy(maxShrinkSteps = steps) }
        fun caseTimeout(timeout: Duration) = apply { c = c.copy(caseTimeout = timeout) }
        fun stopAtFirstFailure(stop: Boolean) = apply { c = c.copy(stopAtFirstFailure = stop) }
        /** Where the summary is written; null = console only. */
        fun reportFile(file: Path?) = apply { c = c.copy(reportFile = file) }
        /** Whether the deterministic cases at the backend's path sizes run (on by default). */
        fun boundaries(on: Boolean) = apply { c = c.copy(boundaries = on) }
        fun build(): TckConfig = c
    }

    companion object {
        /** A builder starting from the defaults (not from the system properties: see [fromSystemProperties]). */
        @JvmStatic
        fun builder(): Builder = Builder(TckConfig())

        /** A fixed default keeps CI deterministic; `-Dattn4j.tck.seed=random` explores new cases. */
        const val DEFAULT_SEED = 20261123L
        const val DEFAULT_ITERATIONS = 100
        const val DEFAULT_MAX_COST = 1L shl 18

        /** The "nightly" setting documented in README.md: 50x the cases, bigger cases, a fresh seed. */
        const val NIGHTLY_HINT = "-Dattn4j.tck.iterations=5000 -Dattn4j.tck.maxCost=2097152 -Dattn4j.tck.seed=random"

        /** A config from the `attn4j.tck.*` system properties (defaults where a property is absent). */
        @JvmStatic
        fun fromSystemProperties(): TckConfig {
            fun prop(name: String): String? = System.getProperty("attn4j.tck.$name")?.trim()?.takeIf { it.isNotEmpty() }
            val seedText = prop("seed")
            val seed = when {
                seedText == null -> DEFAULT_SEED
                seedText.equals("random", ignoreCase = true) -> System.nanoTime() xor (System.currentTimeMillis() shl 20)
                else -> seedText.toLongOrNull() ?: throw IllegalArgumentException("attn4j.tck.seed: expected a long or 'random', got '$seedText'")
            }
            fun long(name: String, default: Long): Long = prop(name)?.let {
                it.toLongOrNull() ?: throw IllegalArgumentException("attn4j.tck.$name: expected an integer, got '$it'")
            } ?: default
            return TckConfig(
                seed = seed,
                iterations = long("iterations", DEFAULT_ITERATIONS.toLong()).toInt(),
                checks = prop("checks")?.split(',')?.map { it.trim() }?.filter { it.isNotEmpty() } ?: emptyList(),
                maxCost = long("maxCost", DEFAULT_MAX_COST),
                caseTimeout = Duration.ofSeconds(long("caseTimeoutSeconds", 60)),
                reportFile = prop("report")?.let { Path.of(it) } ?: Path.of("target", "tck-report.md"),
                boundaries = when (val b = prop("boundaries")?.lowercase()) {
                    null, "true" -> true
                    "false" -> false
                    else -> throw IllegalArgumentException("attn4j.tck.boundaries: expected true or false, got '$b'")
                },
            )
        }
    }
}
