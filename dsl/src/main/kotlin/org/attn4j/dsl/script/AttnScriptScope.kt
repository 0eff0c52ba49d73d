package org.attn4j.dsl.script

import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.BoolTensor
import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod
import org.attn4j.api.LayerConfig
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.dsl.AttnDsl
import org.attn4j.dsl.ModelBuilder
import org.attn4j.dsl.ModelConfig
import org.attn4j.dsl.check.Agreement
import org.attn4j.dsl.check.CheckOutcome
import org.attn4j.dsl.check.NotRun
import org.attn4j.dsl.check.ReferenceChecks
import org.attn4j.dsl.check.Tolerance
import java.nio.file.Files
import java.nio.file.Path
import java.util.Locale
import kotlin.math.abs

/**
 * What a `.attn.kts` script sees as `this`: it declares configs ([model], [compare]) and expectations
 * ([expect], [expectMatchesReference], [expectDecodingMatchesReference], [expectGolden]). Expectations are
 * recorded while the script runs and checked afterwards, one by one, by [AttnScripts.run].
 *
 * ```
 * val mha = model("MHA") { hidden(4096); layers(32); mha { heads(32) } }
 * val gqa = model("GQA-8") { hidden(4096); layers(32); gqa { heads(query = 32, kv = 8) } }
 * expect("GQA-8 cache is 1/4 of MHA") { gqa.kvBytesPerToken * 4 shouldBe mha.kvBytesPerToken }
 * expectMatchesReference(gqa.layer.attentionSpec(), backend = "cpu")
 * ```
 *
 * @property scriptFile the script being run (relative paths in [expectGolden] and [file] resolve against its folder)
 */
@AttnDsl
open class AttnScriptScope(val scriptFile: Path?) {
    internal val expectations = mutableListOf<Expectation>()
    internal val declared = mutableListOf<ModelConfig>()
    internal var compared: List<ModelConfig>? = null

    /** A model config, remembered for `attn compare --config` (see [compare]). */
    fun model(name: String, block: ModelBuilder.() -> Unit): ModelConfig =
        org.attn4j.dsl.model(name, block).also { declared += it }

    /** The configs `attn compare --config` shows, in this order; without a call, every [model] the script declared. */
    fun compare(vararg models: ModelConfig) {
        compared = models.toList()
    }

    /** The configs this script offers for comparison (see [compare]). */
    val configs: List<ModelConfig> get() = compared ?: declared.toList()

    /**
     * An expectation: [check] returns true when it holds. Inside, `a shouldBe b` and `x.isAbout(y)` say what was
     * expected when they fail; an exception fails the expectation with its message.
     */
    fun expect(description: String, check: ExpectScope.() -> Boolean) {
        expectations += Expectation(description, callerLine()) {
            val scope = ExpectScope()
            val ok = scope.check()
            val detail = scope.notes.joinToString("; ")
            if (ok) ExpectationOutcome(Status.PASSED, detail) else ExpectationOutcome(Status.FAILED, detail.ifEmpty { "the check returned false" })
        }
    }

    /**
     * Kernel attention of [spec] on [backend] agrees with the float64 reference within [tolerance] (FORMAT.md's
     * float32 default) on seeded random inputs `q [batch, qHeads, qLen, headDim]`, `k`/`v` `[batch, kvHeads, kvLen, ·]`;
     * [kvLens] pads sequences (keys past `kvLens[b]` are hidden), [mask] is a bool mask (true = may attend).
     */
    fun expectMatchesReference(
        spec: AttentionSpec,
        backend: String = "cpu",
        batch: Int = 1,
        qLen: Int = 13,
        kvLen: Int = qLen,
        kvLens: IntArray? = null,
        mask: BoolTensor? = null,
        tolerance: Tolerance = Tolerance.FORMAT,
        description: String? = null,
        scoreMod: ScoreMod? = null,
        maskMod: MaskMod? = null,
    ) = expectOutcome(description, "matches the reference") {
        ReferenceChecks.kernel(spec, backend, batch, qLen, kvLen, kvLens, mask, seed = 1, tolerance = tolerance,
            scoreMod = scoreMod, maskMod = maskMod)
    }

    /**
     * A whole layer of [config] on [backend] agrees with the reference layer on seeded random weights and
     * `x [batch, qLen, hidden]`; [memoryLen] makes it cross-attention over a memory of that length, [keepLens]
     * adds a key padding mask keeping the first `keepLens[b]` keys of sequence `b`.
     */
    fun expectMatchesReference(
        config: LayerConfig,
        backend: String = "cpu",
        batch: Int = 2,
        qLen: Int = 7,
        memoryLen: Int? = null,
        keepLens: IntArray? = null,
        tolerance: Tolerance = Tolerance.FORMAT,
        description: String? = null,
    ) = expectOutcome(description, "matches the reference") {
        ReferenceChecks.layer(config, backend, batch, qLen, memoryLen, keepLens, seed = 1, tolerance = tolerance)
    }

    /**
     * Feeding a sequence through [backend]'s KV cache in [chunks] (prefill, then decode steps) gives the reference
     * layer's single causal call on the whole sequence.
     */
    fun expectDecodingMatchesReference(
        config: LayerConfig,
        backend: String = "cpu",
        batch: Int = 2,
        chunks: IntArray = intArrayOf(7, 1, 1, 1),
        tolerance: Tolerance = Tolerance.FORMAT,
        description: String? = null,
    ) = expectOutcome(description, "matches the reference") {
        ReferenceChecks.decoding(config, backend, batch, chunks, seed = 1, tolerance = tolerance)
    }

    /**
     * The golden case in folder [case] (relative to this script's folder) passes on [backend]
     * (`attention-golden/1`, FORMAT.md's tolerance; see `attn verify`).
     */
    fun expectGolden(case: String, backend: String = "reference", description: String? = null) {
        val dir = file(case)
        expectations += Expectation(description ?: "golden case ${dir.fileName} passes on $backend", callerLine()) {
            if (!Files.isDirectory(dir)) return@Expectation ExpectationOutcome(Status.FAILED, "$dir: no such case folder")
            val (b, why) = ReferenceChecks.backend(backend)
            if (b == null) return@Expectation ExpectationOutcome(Status.NOT_RUN, why!!)
            val r = GoldenRunner.run(dir, b)
            val err = if (r.maxError.isNaN()) "" else String.format(Locale.ROOT, "max |error| %.2e", r.maxError)
            val detail = listOfNotNull(err.ifEmpty { null }, r.message).joinToString("; ")
            when (r.status) {
                CaseResult.Status.PASSED -> ExpectationOutcome(Status.PASSED, detail)
                CaseResult.Status.SKIPPED -> ExpectationOutcome(Status.NOT_RUN, detail)
                else -> ExpectationOutcome(Status.FAILED, "${r.status}: $detail")
            }
        }
    }

    /** Names of the backends available on this machine (e.g. to check them all). */
    val availableBackends: List<String> get() = Backends.available().map { it.name() }

    /** A path relative to this script's folder (or the working directory when the script has no file). */
    fun file(relative: String): Path =
        (scriptFile?.toAbsolutePath()?.parent ?: Path.of("")).resolve(relative).normalize()

    private fun expectOutcome(description: String?, verb: String, check: () -> CheckOutcome) {
        val line = callerLine()
        // The description is known only after the check ran (it names the shapes), unless the script gave one.
        expectations += Expectation(description ?: verb, line, describedByOutcome = description == null) {
            when (val o = check()) {
                is Agreement -> ExpectationOutcome(if (o.withinTolerance) Status.PASSED else Status.FAILED,
                    String.format(Locale.ROOT, "max |error| %.2e over %d values (%s)%s", o.maxAbsError, o.elements, o.tolerance,
                        if (o.withinTolerance) "" else ": OUTSIDE tolerance"), o.what + " on " + o.backend)
                is NotRun -> ExpectationOutcome(Status.NOT_RUN, o.reasons.joinToString("; "), o.what + " on " + o.backend)
            }
        }
    }

    /** The line of the script that called into this scope (the first stack frame in the script's file). */
    private fun callerLine(): Int? {
        val name = scriptFile?.fileName?.toString() ?: return null
        return Throwable().stackTrace.firstOrNull { it.fileName == name }?.lineNumber
    }
}

/** What an expectation's check block may call to explain a failure. */
@AttnDsl
class ExpectScope internal constructor() {
    internal val notes = mutableListOf<String>()

    /** Equality that, when false, says what was expected. */
    infix fun <T> T.shouldBe(expected: T): Boolean =
        (this == expected).also { if (!it) notes += "expected $expected, got $this" }

    /** `|this - expected| <= within`, saying both numbers when false. */
    fun Double.isAbout(expected: Double, within: Double = 0.01): Boolean =
        (abs(this - expected) <= within).also {
            if (!it) notes += String.format(Locale.ROOT, "expected %.4g ± %.2g, got %.6g", expected, within, this)
        }

    /** Adds a line to the report, pass or fail. */
    fun note(text: String) {
        notes += text
    }
}

/** How an expectation ended. */
enum class Status { PASSED, FAILED, NOT_RUN }

/** What an expectation's check produced: its status, a detail line, and (for built-in checks) its description. */
data class ExpectationOutcome(val status: Status, val detail: String, val description: String? = null)

/** A recorded expectation, run after the script by [AttnScripts.run]. */
class Expectation internal constructor(
    val description: String,
    val line: Int?,
    internal val describedByOutcome: Boolean = false,
    internal val check: () -> ExpectationOutcome,
)
