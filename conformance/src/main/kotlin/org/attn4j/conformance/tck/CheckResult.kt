package org.attn4j.conformance.tck

/** What one generated case gave on one backend. */
sealed interface CaseOutcome {
    /**
     * The backend ran the case and met every rule.
     *
     * @property ratio the accuracy rule's `error / allowed` (0..1; 0 when nothing numeric was compared)
     * @property notes remarks worth reporting once per check (e.g. "no lse returned")
     */
    data class Ok(val ratio: Double = 0.0, val notes: List<String> = emptyList()) : CaseOutcome

    /** The backend declines the case through `support(...)` / `supportLayer(...)`: these are its reasons. */
    data class Declined(val reasons: List<String>) : CaseOutcome

    /** The backend broke a rule: wrong numbers, NaN, an exception, a hang, changed inputs, a wrong shape. */
    data class Bad(val message: String) : CaseOutcome
}

/** The result of one check (a property over many generated cases) on one backend. */
sealed interface CheckResult {
    val check: String

    /** A one-cell summary for the report table. */
    val cell: String

    /**
     * Every case the backend accepted met the rules.
     *
     * @property cases      cases run
     * @property declined   cases the backend declined, by reason
     * @property worstRatio the largest `error / allowed` of the accuracy rule over all cases (<= 1)
     * @property notes      remarks (each once)
     */
    data class Passed(
        override val check: String,
        val cases: Int,
        val declined: Map<String, Int>,
        val worstRatio: Double,
        val notes: Set<String>,
    ) : CheckResult {
        /** Cases the backend declined. */
        val declinedCount: Int get() = declined.values.sum()

        /**
         * Whether this pass says little: the backend declined most cases (more than it ran), or declined some and ran
         * fewer than [MIN_CASES]. Reported as a *partial skip* with the reasons, apart from full passes; not a failure.
         */
        val partial: Boolean get() = declinedCount > 0 && (declinedCount > cases || cases < MIN_CASES)

        override val cell: String
            get() = if (partial) {
                "partial: $cases run, $declinedCount declined (" + declined.keys.joinToString("; ").take(100) + ")"
            } else buildString {
                append("pass ($cases")
                if (declined.isNotEmpty()) append(", $declinedCount declined")
                append(", worst ${"%.3f".format(worstRatio)})")
            }

        companion object {
            /** Fewer cases run than this, with some declined, make a pass [partial]. */
            const val MIN_CASES = 10
        }
    }

    /** The backend declined every case (or is not available): the reasons, with how many cases each covered. */
    data class Skipped(override val check: String, val reasons: Map<String, Int>) : CheckResult {
        override val cell: String get() = "skipped: " + reasons.keys.joinToString("; ").take(120)
    }

    /**
     * A case broke a rule.
     *
     * @property seed     the check's seed: `-Dattn4j.tck.seed=<base seed>` with `-Dattn4j.tck.checks=<check>` replays it
     * @property baseSeed the run's base seed
     * @property original the first failing case as generated
     * @property shrunk   the smallest failing case the shrinker found
     * @property message  what was wrong with [shrunk]
     * @property casesRun cases run before the failure (counting the failing one)
     */
    data class Failed(
        override val check: String,
        val baseSeed: Long,
        val seed: Long,
        val original: String,
        val shrunk: String,
        val shrinkSteps: Int,
        val message: String,
        val casesRun: Int,
    ) : CheckResult {
        override val cell: String get() = "FAIL"

        /** Everything needed to understand and replay the failure. */
        fun report(backend: String): String = """
            |TCK check '$check' FAILED on backend '$backend' (case #$casesRun)
            |  shrunk case: $shrunk
            |  problem:     ${message.replace("\n", "\n  ")}
            |  original:    $original
            |  shrink steps: $shrinkSteps
            |  replay:      -Dattn4j.tck.seed=$baseSeed -Dattn4j.tck.checks=$check   (check seed $seed)
        """.trimMargin()
    }
}
