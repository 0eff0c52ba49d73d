package org.attn4j.dsl.script

import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.BoolTensor
import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod
import org.attn4j.api.LayerConfig
import org.attn4j.dsl.AttnDsl
import org.attn4j.dsl.ModelBuilder
import org.attn4j.dsl.ModelConfig
import org.attn4j.dsl.check.DecodingCheck
import org.attn4j.dsl.check.ExpectationChecker
import org.attn4j.dsl.check.KernelCheck
import org.attn4j.dsl.check.LayerCheck
import org.attn4j.dsl.check.ToleranceOverride
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
 * @property checker    runs the reference and golden expectations (the host's; null: those are not run)
 */
@AttnDsl
open class AttnScriptScope(val scriptFile: Path?, private val checker: ExpectationChecker? = null) {
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
     * Kernel attention of [spec] on [backend] agrees with the float64 reference within [tolerance] (null: FORMAT.md's
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
        tolerance: ToleranceOverride? = null,
        description: String? = null,
        scoreMod: ScoreMod? = null,
        maskMod: MaskMod? = null,
    ) = expectOutcome(description, "matches the reference", "kernel on $backend") {
        it.kernel(KernelCheck(spec, backend, batch, qLen, kvLen, kvLens?.clone(), mask, SEED, tolerance, scoreMod, maskMod))
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
        tolerance: ToleranceOverride? = null,
        description: String? = null,
    ) = expectOutcome(description, "matches the reference", "layer on $backend") {
        it.layer(LayerCheck(config, backend, batch, qLen, memoryLen, keepLens?.clone(), SEED, tolerance))
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
        tolerance: ToleranceOverride? = null,
        description: String? = null,
    ) = expectOutcome(description, "matches the reference", "KV-cache decoding on $backend") {
        it.decoding(DecodingCheck(config, backend, batch, chunks.clone(), SEED, tolerance))
    }

    /**
     * The golden case in folder [case] (relative to this script's folder) passes on [backend]
     * (`attention-golden/1`, FORMAT.md's tolerance; see `attn verify`).
     */
    fun expectGolden(case: String, backend: String = "reference", description: String? = null) {
        val dir = file(case)
        expectations += Expectation(description ?: "golden case ${dir.fileName} passes on $backend", callerLine()) {
            if (!Files.isDirectory(dir)) return@Expectation ExpectationOutcome(Status.FAILED, "$dir: no such case folder")
            val host = checker ?: return@Expectation ExpectationOutcome(Status.NOT_RUN, NO_CHECKER)
            host.golden(dir, backend)
        }
    }

    /** Names of the backends available on this machine (e.g. to check them all). */
    val availableBackends: List<String> get() = Backends.available().map { it.name() }

    /** A path relative to this script's folder (or the working directory when the script has no file). */
    fun file(relative: String): Path =
        (scriptFile?.toAbsolutePath()?.parent ?: Path.of("")).resolve(relative).normalize()

    /**
     * Records a check handed to the host's [checker]; [unchecked] names it when there is no checker (the outcome
     * of a check that ran names what ran, with its shapes).
     */
    private fun expectOutcome(description: String?, verb: String, unchecked: String,
                              check: (ExpectationChecker) -> ExpectationOutcome) {
        val line = callerLine()
        // The description is known only after the check ran (it names the shapes), unless the script gave one.
        expectations += Expectation(description ?: verb, line, describedByOutcome = description == null) {
            val host = checker ?: return@Expectation ExpectationOutcome(Status.NOT_RUN, NO_CHECKER, unchecked)
            check(host)
        }
    }

    private companion object {
        /** The seed of the random inputs: a script's checks are reproducible run to run. */
        const val SEED = 1L
        const val NO_CHECKER = "no expectation checker: this host runs scripts without the conformance checks " +
            "(`attn run` supplies them)"
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
