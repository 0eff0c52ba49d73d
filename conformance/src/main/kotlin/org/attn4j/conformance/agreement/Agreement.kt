package org.attn4j.conformance.agreement

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.BoolTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.PlanOptions
import org.attn4j.api.ScoreMod
import org.attn4j.api.MaskMod
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.conformance.golden.Tolerance
import java.nio.file.Path
import java.util.Locale

/** The result of a check against the reference or a golden case: measured, or not run and why. */
sealed interface CheckOutcome {
    /** A one-line summary for terminals. */
    val summary: String
}

/**
 * A backend's output compared element-wise with the float64 reference's by [GoldenRunner.compare] (FORMAT.md's
 * rule: equal infinities match, NaN never does).
 *
 * @property what          what ran, with its shapes
 * @property maxAbsError   `max |actual - expected|` over all elements (NaN when a value was NaN)
 * @property failures      how many elements were outside [tolerance]
 * @property firstFailure  the first element outside [tolerance], described, or null
 * @property elements      how many elements were compared
 */
data class Agreement(
    val what: String,
    val backend: String,
    val maxAbsError: Double,
    val failures: Int,
    val firstFailure: String?,
    val tolerance: Tolerance,
    val elements: Int,
) : CheckOutcome {
    val withinTolerance: Boolean get() = failures == 0

    override val summary: String
        get() = String.format(Locale.ROOT, "%s on %s: max |error| %.2e over %d values (%s) -> %s", what, backend,
            maxAbsError, elements, tolerance, if (withinTolerance) "within tolerance" else "OUTSIDE tolerance: $firstFailure")
}

/** The check did not run: the backend is missing, unavailable, or declines a feature (its own reasons). */
data class NotRun(val what: String, val backend: String, val reasons: List<String>) : CheckOutcome {
    override val summary: String get() = "$what on $backend: not run: ${reasons.joinToString("; ")}"
}

/** A golden case run on a backend ([GoldenRunner.run]). */
data class GoldenCheck(val what: String, val backend: String, val result: CaseResult) : CheckOutcome {
    override val summary: String get() = "$what on $backend: ${result.status}" + (result.message?.let { ": $it" } ?: "")
}

/**
 * Runs attention on a backend and on the float64 reference with the same random float32 inputs, and compares.
 * Every function returns [NotRun] (never throws) when the backend is unknown, unavailable or declines the problem.
 */
object ReferenceChecks {
    /** A backend by name, or the reason it cannot be used. */
    fun backend(name: String): Pair<AttentionBackend?, String?> {
        val found = Backends.all().firstOrNull { it.name() == name }
            ?: return null to "no backend named '$name' on the class path (found: ${Backends.all().map { it.name() }})"
        found.unavailableReason().orElse(null)?.let { return null to "unavailable: $it" }
        return found to null
    }

    /**
     * Kernel attention: `q [batch, qHeads, qLen, headDim]`, `k`/`v` `[batch, kvHeads, kvLen, ·]` uniform in ±1,
     * optionally with per-sequence valid lengths (`kv_lens`, a padding mask in kernel terms) and a bool `mask`
     * broadcastable to `[batch, qHeads, qLen, kvLen]`.
     */
    fun kernel(
        spec: AttentionSpec,
        backend: String,
        batch: Int = 1,
        qLen: Int = 13,
        kvLen: Int = qLen,
        kvLens: IntArray? = null,
        mask: BoolTensor? = null,
        seed: Long = 1,
        tolerance: Tolerance = Tolerance.DEFAULT,
        scoreMod: ScoreMod? = null,
        maskMod: MaskMod? = null,
    ): CheckOutcome {
        val what = "kernel ${describe(spec)} B=$batch Lq=$qLen Lk=$kvLen" +
            (kvLens?.let { " kv_lens=${it.contentToString()}" } ?: "") + (mask?.let { " mask${it.shape().contentToString()}" } ?: "") +
            (if (scoreMod != null) " scoreMod" else "") + (if (maskMod != null) " maskMod" else "")
        val (b, why) = backend(backend)
        if (b == null) return NotRun(what, backend, listOf(why!!))
        val rnd = RandomTensors(seed)
        var inputs = AttentionInputs.of(
            rnd.uniform(batch, spec.qHeads(), qLen, spec.headDim()),
            rnd.uniform(batch, spec.kvHeads(), kvLen, spec.headDim()),
            rnd.uniform(batch, spec.kvHeads(), kvLen, spec.vHeadDim()),
        )
        if (kvLens != null) inputs = inputs.withKvLens(IntTensor.of(kvLens.clone(), kvLens.size))
        if (mask != null) inputs = inputs.withMask(mask)
        if (scoreMod != null) inputs = inputs.withScoreMod(scoreMod)
        if (maskMod != null) inputs = inputs.withMaskMod(maskMod)
        val problem = inputs.validate(spec)
        val support = b.support(problem)
        if (!support.isSupported) return NotRun(what, backend, support.reasons())
        val actual = b.plan(problem, PlanOptions.defaults()).use { it.run(inputs).out() }
        val expected = ReferenceAttention.attend(spec, inputs).out()
        return compare(what, backend, actual, expected, tolerance)
    }

    /**
     * A whole layer: `x [batch, qLen, hidden]` uniform in ±1 and random weights (`±1/sqrt(in)`); with [memoryLen]
     * it is cross-attention over `kv_x [batch, memoryLen, hidden]`, with [keepLens] a key padding mask that keeps
     * the first `keepLens[b]` keys of sequence `b`.
     */
    fun layer(
        config: LayerConfig,
        backend: String,
        batch: Int = 2,
        qLen: Int = 7,
        memoryLen: Int? = null,
        keepLens: IntArray? = null,
        seed: Long = 1,
        tolerance: Tolerance = Tolerance.DEFAULT,
    ): CheckOutcome {
        val kvLen = memoryLen ?: qLen
        val what = "layer ${describe(config)} B=$batch Lq=$qLen" + (memoryLen?.let { " cross Lk=$it" } ?: "") +
            (keepLens?.let { " key_padding keep=${it.contentToString()}" } ?: "")
        val (b, why) = backend(backend)
        if (b == null) return NotRun(what, backend, listOf(why!!))
        val support = b.supportLayer(config)
        if (!support.isSupported) return NotRun(what, backend, support.reasons())
        val rnd = RandomTensors(seed)
        val weights = rnd.weights(config)
        val x = rnd.uniform(batch, qLen, config.hidden())
        val kvX = memoryLen?.let { rnd.uniform(batch, it, config.hidden()) }
        val pad = keepLens?.let { RandomTensors.keyPadding(kvLen, it) }
        val options = PlanOptions.defaults()
        val actual = b.planLayer(config, weights, options).use { it.forward(x, kvX, pad) }
        val expected = ReferenceBackend().planLayer(config, weights, options).use { it.forward(x, kvX, pad) }
        return compare(what, backend, actual, expected, tolerance)
    }

    /**
     * KV-cache decoding: feeds `x [batch, sum(chunks), hidden]` through the backend's cache in [chunks] (a prefill,
     * then decode steps) and compares the concatenated outputs with the reference's single causal call on the
     * whole sequence. The layer must be causal (that is what makes chunking exact).
     */
    fun decoding(
        config: LayerConfig,
        backend: String,
        batch: Int = 2,
        chunks: IntArray = intArrayOf(7, 1, 1, 1),
        seed: Long = 1,
        tolerance: Tolerance = Tolerance.DEFAULT,
    ): CheckOutcome {
        val total = chunks.sum()
        val what = "KV-cache decoding ${describe(config)} B=$batch chunks=${chunks.contentToString()}"
        if (!config.attentionSpec().causal()) {
            throw AttentionException.invalid("config.causal", "true for a chunked decoding check", false)
        }
        val (b, why) = backend(backend)
        if (b == null) return NotRun(what, backend, listOf(why!!))
        val support = b.supportLayer(config)
        if (!support.isSupported) return NotRun(what, backend, support.reasons())
        val rnd = RandomTensors(seed)
        val weights = rnd.weights(config)
        val x = rnd.uniform(batch, total, config.hidden())
        val options = PlanOptions.defaults()
        val expected = ReferenceBackend().planLayer(config, weights, options).use { it.forward(x, null, null) }
        val actual = FloatArrayBuilder(batch, total, config.hidden())
        b.planLayer(config, weights, options).use { plan ->
            val cache = plan.newCache(batch, total)
            var at = 0
            for (n in chunks) {
                val y = plan.step(x.slice(1, at, n).copy(), cache)
                actual.put(y, at)
                at += n
            }
        }
        return compare(what, backend, actual.tensor(), expected, tolerance)
    }

    /**
     * Element-wise comparison with FORMAT.md's rule ([GoldenRunner.compare]); a shape mismatch is a failure that
     * says both shapes.
     */
    fun compare(what: String, backend: String, actual: Tensor, expected: Tensor, tolerance: Tolerance): Agreement {
        val c = GoldenRunner.compare(expected, actual, tolerance)
        return Agreement(what, backend, c.maxError, c.failures, c.firstFailure?.trim(), tolerance, expected.elementCount())
    }

    /**
     * The golden case in folder [caseDir] on [backend] (FORMAT.md's tolerances, as `attn verify`); a missing or
     * unusable backend is [NotRun].
     */
    fun golden(caseDir: Path, backend: String): CheckOutcome {
        val what = "golden case ${caseDir.fileName}"
        val (b, why) = backend(backend)
        if (b == null) return NotRun(what, backend, listOf(why!!))
        return GoldenCheck(what, backend, GoldenRunner.run(caseDir, b))
    }

    fun describe(spec: AttentionSpec): String = buildString {
        append(if (spec.kvHeads() == spec.qHeads()) "MHA" else if (spec.kvHeads() == 1) "MQA" else "GQA")
        append(" ${spec.qHeads()}/${spec.kvHeads()} d=${spec.headDim()}")
        if (spec.vHeadDim() != spec.headDim()) append(" dv=${spec.vHeadDim()}")
        if (spec.causal()) append(" causal")
        if (spec.hasWindow()) append(" window(${spec.window().left()},${spec.window().right()})")
    }

    fun describe(config: LayerConfig): String = when (config) {
        is org.attn4j.api.StandardLayerConfig ->
            "${config.variant()} hidden=${config.hidden()} heads=${config.qHeads()}/${config.kvHeads()} d=${config.headDim()}" +
                (if (config.causal()) " causal" else "") + (if (config.bias()) " bias" else "")
        is org.attn4j.api.MlaLayerConfig ->
            "MLA hidden=${config.hidden()} heads=${config.qHeads()} q_lora=${config.qLoraRank()} kv_lora=${config.kvLoraRank()} " +
                "nope=${config.qkNopeHeadDim()} rope=${config.qkRopeHeadDim()} v=${config.vHeadDim()}" + (if (config.causal()) " causal" else "")
    }

    /** Collects chunk outputs `[B, n, hidden]` into one `[B, total, hidden]` float64 tensor. */
    private class FloatArrayBuilder(private val batch: Int, private val total: Int, private val hidden: Int) {
        private val out = org.attn4j.api.DoubleTensor.zeros(batch, total, hidden)

        fun put(y: Tensor, at: Int) {
            y.requireShape("step output", batch, y.size(1), hidden)
            org.attn4j.api.Tensors.copyInto(y, out.slice(1, at, y.size(1)))
        }

        fun tensor(): Tensor = out
    }
}
