package org.attn4j.dsl.script

import org.attn4j.api.AttentionException
import org.attn4j.dsl.ModelConfig
import org.attn4j.dsl.check.ExpectationChecker
import java.nio.file.Files
import java.nio.file.Path
import kotlin.script.experimental.api.ResultValue
import kotlin.script.experimental.api.ResultWithDiagnostics
import kotlin.script.experimental.api.ScriptDiagnostic
import kotlin.script.experimental.api.ScriptEvaluationConfiguration
import kotlin.script.experimental.api.implicitReceivers
import kotlin.script.experimental.host.toScriptSource
import kotlin.script.experimental.jvmhost.BasicJvmScriptingHost
import kotlin.script.experimental.jvmhost.createJvmCompilationConfigurationFromTemplate

/**
 * A compile error or an exception while the script ran, located in the script: prints as `file:line: message`.
 *
 * @property badInput the script could not be read or compiled, or it declared an invalid config (an
 *                    [AttentionException]); false when its code failed otherwise (any other exception or error)
 */
data class ScriptProblem(val file: String, val line: Int?, val message: String, val badInput: Boolean = true) {
    override fun toString(): String = "$file:${line ?: "?"}: $message"
}

/** A script compiled and ran (or did not: [problems]); its expectations are recorded in [scope], not yet checked. */
class ScriptEvaluation internal constructor(val file: Path, val problems: List<ScriptProblem>, val scope: AttnScriptScope?) {
    val ok: Boolean get() = problems.isEmpty() && scope != null

    /** The configs the script offers for comparison (empty when it failed). */
    val configs: List<ModelConfig> get() = scope?.configs ?: emptyList()
}

/**
 * One checked expectation.
 *
 * @property line   the script line that declared it
 * @property millis how long the check took
 * @property thrown when the check threw: `ExceptionClass: short message` (then [status] is [Status.FAILED])
 */
data class ExpectationResult(
    val description: String,
    val status: Status,
    val detail: String,
    val line: Int?,
    val millis: Long,
    val thrown: String? = null,
)

/** Everything `attn run` reports for one script. */
class ScriptReport internal constructor(
    val file: Path,
    val problems: List<ScriptProblem>,
    val results: List<ExpectationResult>,
    val configs: List<ModelConfig>,
    /** An expectation ran out of memory: this JVM may be unusable now (a runner should start a fresh one). */
    val outOfMemory: Boolean = false,
) {
    val passed: Int get() = results.count { it.status == Status.PASSED }
    val failed: Int get() = results.count { it.status == Status.FAILED }
    val notRun: Int get() = results.count { it.status == Status.NOT_RUN }

    /** The script ran but declared no expectation: nothing was verified, which is not a pass. */
    val noExpectations: Boolean get() = problems.isEmpty() && results.isEmpty()

    /**
     * No compile/run problem, at least one expectation and no failed one (expectations that could not run are
     * not failures).
     */
    val ok: Boolean get() = problems.isEmpty() && results.isNotEmpty() && failed == 0
}

/**
 * Compiles, runs and checks `.attn.kts` scripts in this JVM. The first script costs a few seconds (the Kotlin
 * compiler warms up); later ones well under a second, so run many scripts in one JVM.
 */
object AttnScripts {
    private val compilation by lazy { createJvmCompilationConfigurationFromTemplate<AttnScript>() }
    private val host by lazy { BasicJvmScriptingHost() }

    /**
     * Compiles and runs [file]; compile errors and exceptions become [ScriptProblem]s, never a thrown stack trace.
     * [checker] will run its reference and golden expectations (without one they are not run).
     */
    @JvmOverloads
    fun evaluate(file: Path, checker: ExpectationChecker? = null): ScriptEvaluation {
        val shown = file.toString()
        if (!Files.isRegularFile(file)) return ScriptEvaluation(file, listOf(ScriptProblem(shown, null, "no such file")), null)
        val scope = AttnScriptScope(file, checker)
        val evaluation = ScriptEvaluationConfiguration { implicitReceivers(scope) }
        val result = try {
            host.eval(file.toFile().toScriptSource(), compilation, evaluation)
        } catch (t: Throwable) {
            // Also StackOverflowError/OutOfMemoryError from the compiler or the script: one line, never a trace.
            return ScriptEvaluation(file, listOf(ScriptProblem(shown, lineOf(t, file), "the script host failed: ${describe(t)}", badInput = false)), null)
        }
        val errors = result.reports.filter { it.severity >= ScriptDiagnostic.Severity.ERROR }
            .map { ScriptProblem(shown, it.location?.start?.line, it.message) }
        return when (result) {
            is ResultWithDiagnostics.Failure ->
                ScriptEvaluation(file, errors.ifEmpty { listOf(ScriptProblem(shown, null, "compilation failed")) }, null)
            is ResultWithDiagnostics.Success -> when (val value = result.value.returnValue) {
                is ResultValue.Error -> ScriptEvaluation(file, errors + located(shown, file, value.error), null)
                is ResultValue.NotEvaluated -> ScriptEvaluation(file, errors + ScriptProblem(shown, null, "the script was not evaluated"), null)
                else -> ScriptEvaluation(file, errors, scope)
            }
        }
    }

    /**
     * Evaluates [file], then checks each expectation in order (the reference and golden ones with [checker]),
     * telling [listener] about each as it finishes.
     */
    fun run(file: Path, checker: ExpectationChecker? = null, listener: (ExpectationResult) -> Unit = {}): ScriptReport {
        val evaluation = evaluate(file, checker)
        val scope = evaluation.scope
        if (!evaluation.ok || scope == null) return ScriptReport(file, evaluation.problems, emptyList(), emptyList())
        var outOfMemory = false
        val results = scope.expectations.map { e ->
            val start = System.nanoTime()
            var thrown: String? = null
            // Any Throwable, StackOverflowError and OutOfMemoryError included, fails this expectation only: the
            // stack has unwound (and the failed allocation is gone) by the time it is caught, so the next can run.
            val outcome = try {
                e.check()
            } catch (t: Throwable) {
                if (t is OutOfMemoryError) outOfMemory = true
                thrown = describe(t)
                ExpectationOutcome(Status.FAILED, lineOf(t, file)?.let { "thrown at line $it" } ?: "")
            }
            val description = if (e.describedByOutcome && outcome.description != null) "${outcome.description}: ${e.description}" else e.description
            ExpectationResult(description, outcome.status, outcome.detail, e.line, (System.nanoTime() - start) / 1_000_000, thrown)
                .also(listener)
        }
        return ScriptReport(file, emptyList(), results, scope.configs, outOfMemory)
    }

    /** An exception from the script's own code: an [AttentionException] is an invalid config (bad input). */
    private fun located(shown: String, file: Path, t: Throwable): ScriptProblem =
        ScriptProblem(shown, lineOf(t, file), describe(t), badInput = t is AttentionException)

    /** The script line an exception came from: the first frame (through causes) in the script's file. */
    internal fun lineOf(t: Throwable, file: Path): Int? {
        val name = file.fileName.toString()
        var e: Throwable? = t
        while (e != null) {
            e.stackTrace.firstOrNull { it.fileName == name }?.let { return it.lineNumber }
            e = e.cause
        }
        return null
    }

    /**
     * One line: our own errors carry a complete message; anything else is named by its type too
     * (`StackOverflowError`, `IllegalStateException: boom`). Long or multi-line messages are cut.
     */
    internal fun describe(t: Throwable): String {
        val message = t.message?.lineSequence()?.firstOrNull { it.isNotBlank() }?.trim()?.let {
            if (it.length > MAX_MESSAGE) it.take(MAX_MESSAGE) + "…" else it
        }
        return when {
            t is AttentionException && message != null -> message
            message == null -> t.javaClass.simpleName
            else -> "${t.javaClass.simpleName}: $message"
        }
    }

    private const val MAX_MESSAGE = 200
}
