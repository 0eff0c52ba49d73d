package org.attn4j.dsl.check

import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod
import org.attn4j.dsl.script.ExpectationOutcome
import java.nio.file.Path

/**
 * Runs the expectations that compare numbers: a backend against the float64 reference, and golden cases. The
 * language only records what a script asks for; the host that runs scripts (`attn run`, `attn compare --config`)
 * supplies an implementation backed by the conformance module, which owns the one tolerance rule (FORMAT.md).
 * Without a checker such expectations are not run, with that reason (never a pass).
 *
 * Each method returns the outcome with its `description` set to what ran (e.g. `kernel MHA 4/4 d=8 … on cpu`).
 */
interface ExpectationChecker {
    /** Kernel attention on seeded random inputs agrees with the reference. */
    fun kernel(check: KernelCheck): ExpectationOutcome

    /** A whole layer on seeded random weights and inputs agrees with the reference layer. */
    fun layer(check: LayerCheck): ExpectationOutcome

    /** Chunked KV-cache decoding agrees with the reference layer's single causal call. */
    fun decoding(check: DecodingCheck): ExpectationOutcome

    /** The golden case in folder [caseDir] passes on [backend]. */
    fun golden(caseDir: Path, backend: String): ExpectationOutcome
}

/**
 * A tolerance a script asks for instead of FORMAT.md's default (`|actual - expected| <= atol + rtol·|expected|`);
 * a null field keeps the default's value.
 */
data class ToleranceOverride(val atol: Double? = null, val rtol: Double? = null) {
    init {
        atol?.let { AttentionException.require(it.isFinite() && it >= 0, "tolerance.atol", "a finite number >= 0", it) }
        rtol?.let { AttentionException.require(it.isFinite() && it >= 0, "tolerance.rtol", "a finite number >= 0", it) }
    }
}

/** What `expectMatchesReference(spec, …)` asks for (shapes as in [org.attn4j.dsl.script.AttnScriptScope]). */
data class KernelCheck(
    val spec: AttentionSpec,
    val backend: String,
    val batch: Int,
    val qLen: Int,
    val kvLen: Int,
    val kvLens: IntArray?,
    val mask: BoolTensor?,
    val seed: Long,
    val tolerance: ToleranceOverride?,
    val scoreMod: ScoreMod?,
    val maskMod: MaskMod?,
)

/** What `expectMatchesReference(config, …)` asks for. */
data class LayerCheck(
    val config: LayerConfig,
    val backend: String,
    val batch: Int,
    val qLen: Int,
    val memoryLen: Int?,
    val keepLens: IntArray?,
    val seed: Long,
    val tolerance: ToleranceOverride?,
)

/** What `expectDecodingMatchesReference(config, …)` asks for. */
data class DecodingCheck(
    val config: LayerConfig,
    val backend: String,
    val batch: Int,
    val chunks: IntArray,
    val seed: Long,
    val tolerance: ToleranceOverride?,
)
