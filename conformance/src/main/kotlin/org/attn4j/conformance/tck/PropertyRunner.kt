package org.attn4j.conformance.tck

import io.kotest.property.Arb
import io.kotest.property.RTree
import io.kotest.property.RandomSource
import java.time.Duration
import java.util.concurrent.ExecutionException
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/**
 * Runs a property: draws cases from a Kotest [Arb] with a fixed seed, evaluates each, and on the first failure
 * shrinks it along the Arb's shrink tree (greedy: take the first simpler case that still fails, repeat).
 *
 * A plain function returning a [CheckResult], so the TCK can run outside Kotest's engine (the broken-backend
 * tests do); the Kotest factory only wraps it. Every evaluation runs under a timeout: a hang is a failure,
 * not a stuck build.
 */
object PropertyRunner {
    private val pool = Executors.newCachedThreadPool { r -> Thread(r, "attn4j-tck-case").apply { isDaemon = true } }

    /**
     * @param check      the check's name (for the result)
     * @param arb        the case generator
     * @param config     seed, iterations, shrink budget, timeout
     * @param iterations how many cases to draw
     * @param describe   one-line description of a case (defaults to `toString`)
     * @param resample   draw again after a declined case, until [iterations] cases ran or [RESAMPLE_FACTOR] times
     *                   [iterations] were drawn (contract checks: a narrow backend must still run enough of them);
     *                   not when none of the first [iterations] draws ran
     * @param evaluate   judges one case; may throw (that is a failure)
     */
    fun <T> run(
        check: String,
        arb: Arb<T>,
        config: TckConfig,
        iterations: Int,
        describe: (T) -> String = { it.toString() },
        resample: Boolean = false,
        evaluate: (T) -> CaseOutcome,
    ): CheckResult {
        val seed = config.seedFor(check)
        val rs = RandomSource.seeded(seed)
        val declined = LinkedHashMap<String, Int>()
        val notes = LinkedHashSet<String>()
        var worst = 0.0
        var ran = 0
        var n = 0
        // Beyond its iterations a resampling check draws on only while some but too few cases ran: a backend that
        // declined all of the first draws lacks the check's subject, and is reported skipped without a long search.
        fun drawAgain(): Boolean = when {
            n < iterations -> true
            !resample -> false
            else -> ran in 1 until iterations && n < iterations.toLong() * RESAMPLE_FACTOR
        }
        while (drawAgain()) {
            n++
            // The first case is the simplest one the profile allows (a smoke test); the rest are random.
            val sample = if (n == 1) arb.edgecase(rs) ?: arb.sample(rs) else arb.sample(rs)
            when (val outcome = guarded(config.caseTimeout) { evaluate(sample.value) }) {
                is CaseOutcome.Ok -> {
                    ran++
                    worst = maxOf(worst, outcome.ratio)
                    notes += outcome.notes
                }
                is CaseOutcome.Declined -> outcome.reasons.ifEmpty { listOf("(no reason given)") }.forEach { declined.merge(it, 1, Int::plus) }
                is CaseOutcome.Bad -> {
                    val (shrunk, message, steps) = shrink(sample.shrinks, outcome.message, config) { guarded(config.caseTimeout) { evaluate(it) } }
                    return CheckResult.Failed(check, config.seed, seed, describeSafely(describe, sample.value),
                        shrunk?.let { describeSafely(describe, it) } ?: describeSafely(describe, sample.value), steps, message, n)
                }
            }
        }
        return if (ran == 0 && declined.isNotEmpty()) CheckResult.Skipped(check, declined)
        else CheckResult.Passed(check, ran, declined, worst, notes)
    }

    /** How many times its iterations a resampling check may draw before it settles for fewer cases run. */
    const val RESAMPLE_FACTOR = 20

    /**
     * Runs a fixed list of cases (the deterministic boundary cases): each is judged like a random one; on the first
     * failure, [simpler] proposes smaller variants and the runner keeps the first that still fails, repeatedly (at most
     * [TckConfig.maxShrinkSteps] tries). The list depends only on the backend and the seed, so the replay line of a
     * failure runs the same cases again.
     */
    fun <T> runCases(
        check: String,
        cases: List<T>,
        config: TckConfig,
        describe: (T) -> String = { it.toString() },
        simpler: (T) -> List<T> = { emptyList() },
        evaluate: (T) -> CaseOutcome,
    ): CheckResult {
        val declined = LinkedHashMap<String, Int>()
        val notes = LinkedHashSet<String>()
        var worst = 0.0
        var ran = 0
        for ((at, case) in cases.withIndex()) {
            when (val outcome = guarded(config.caseTimeout) { evaluate(case) }) {
                is CaseOutcome.Ok -> {
                    ran++
                    worst = maxOf(worst, outcome.ratio)
                    notes += outcome.notes
                }
                is CaseOutcome.Declined -> outcome.reasons.ifEmpty { listOf("(no reason given)") }.forEach { declined.merge(it, 1, Int::plus) }
                is CaseOutcome.Bad -> {
                    var best = case
                    var message = outcome.message
                    var tries = 0
                    var steps = 0
                    outer@ while (tries < config.maxShrinkSteps) {
                        for (candidate in simpler(best)) {
                            if (tries++ >= config.maxShrinkSteps) break@outer
                            val r = guarded(config.caseTimeout) { evaluate(candidate) }
                            if (r is CaseOutcome.Bad) {
                                best = candidate
                                message = r.message
                                steps++
                                continue@outer
                            }
                        }
                        break
                    }
                    return CheckResult.Failed(check, config.seed, config.seedFor(check),
                        "boundary case ${at + 1} of ${cases.size}: " + describeSafely(describe, case), describeSafely(describe, best),
                        steps, message, at + 1)
                }
            }
        }
        return if (ran == 0 && declined.isNotEmpty()) CheckResult.Skipped(check, declined)
        else CheckResult.Passed(check, ran, declined, worst, notes)
    }

    /** Greedy shrinking: returns the smallest failing value found (null = the original), its message and the steps taken. */
    private fun <T> shrink(tree: RTree<T>, message: String, config: TckConfig, evaluate: (T) -> CaseOutcome): Triple<T?, String, Int> {
        var current: RTree<T> = tree
        var best: T? = null
        var bestMessage = message
        var tries = 0
        var steps = 0
        outer@ while (tries < config.maxShrinkSteps) {
            for (child in current.children.value) {
                if (tries++ >= config.maxShrinkSteps) break@outer
                val value = child.value()
                val outcome = evaluate(value)
                if (outcome is CaseOutcome.Bad) {
                    current = child
                    best = value
                    bestMessage = outcome.message
                    steps++
                    continue@outer
                }
            }
            break
        }
        return Triple(best, bestMessage, steps)
    }

    private fun <T> describeSafely(describe: (T) -> String, value: T): String =
        try {
            describe(value)
        } catch (e: Exception) {
            "$value (describe failed: $e)"
        }

    /** Runs [block] on a worker thread; an exception or a timeout becomes [CaseOutcome.Bad]. */
    fun guarded(timeout: Duration, block: () -> CaseOutcome): CaseOutcome {
        val future = pool.submit<CaseOutcome> { block() }
        return try {
            future.get(timeout.toMillis(), TimeUnit.MILLISECONDS)
        } catch (e: TimeoutException) {
            future.cancel(true)
            CaseOutcome.Bad("timed out after ${timeout.toSeconds()} s (a hang is a bug)")
        } catch (e: ExecutionException) {
            CaseOutcome.Bad("threw ${describe(e.cause ?: e)}")
        }
    }

    /** An exception in one line plus where it came from. */
    fun describe(t: Throwable): String {
        val where = t.stackTrace.firstOrNull()?.let { " at ${it.className}.${it.methodName}(${it.fileName}:${it.lineNumber})" } ?: ""
        return "${t.javaClass.name}: ${t.message}$where"
    }
}
