package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceBackend
import kotlin.math.abs

/**
 * Whole-layer checks: MHA/MQA/GQA (biases, cross-attention, key padding masks) and MLA (both RoPE pairings, with and
 * without query LoRA, naive and absorbed paths), in one call and fed chunk by chunk through the layer's KV cache.
 * The oracle is the float64 reference layer; the tolerance comes from a float32 evaluation ([Naive32]).
 */
object LayerChecks {
    private val REFERENCE = ReferenceBackend()
    private val ON = GenePool.only(1)

    val ALL: List<TckCheck> by lazy {
        listOf(
            standard("layer/standard", "MHA/MQA/GQA self-attention layers (biases on/off, causal, windows, softcap, scale)", emptyMap()),
            standard("layer/cross-attention", "cross-attention: keys and values projected from a memory of another length", mapOf(StandardLayerGene.CROSS to ON)),
            standard("layer/key-padding-mask", "key padding masks [B, Lk] (self and cross), rows that keep no key included",
                mapOf(StandardLayerGene.KEY_PAD to ON, StandardLayerGene.CROSS to KernelGenes.sometimes(2, 0.5))),
            standardSteps("layer/kv-cache-steps", "chunked decoding through LayerPlan.newCache/step equals the reference in one call"),
            mla("layer/mla-naive", PlanOptions.MlaPath.NAIVE),
            mla("layer/mla-absorbed", PlanOptions.MlaPath.ABSORBED),
            mlaSteps(),
            mlaPathsAgree(),
        )
    }

    /** The reference forward of a layer (float64, naive MLA path). */
    private fun reference(config: LayerConfig, weights: LayerWeights, a: Activations, path: PlanOptions.MlaPath): Tensor =
        REFERENCE.planLayer(config, weights, PlanOptions(1, false, path)).use { it.forward(a.x, a.kvX, a.keyPaddingMask) }

    /** Plans [config] on [backend], or says why it is declined. */
    private fun <T> withLayer(backend: AttentionBackend, config: LayerConfig, weights: LayerWeights, path: PlanOptions.MlaPath,
                              body: (LayerPlan) -> T): Pair<T?, CaseOutcome.Declined?> {
        val support = backend.supportLayer(config)
        if (!support.isSupported) return null to CaseOutcome.Declined(support.reasons())
        return backend.planLayer(config, weights, Runs.OPTIONS.withMlaPath(path)).use { body(it) } to null
    }

    /** `y` must be `[B, L, hidden]` of the backend's dtype. */
    private fun checkY(backend: AttentionBackend, y: Tensor, shape: IntArray) {
        if (!y.shape().contentEquals(shape)) throw ContractViolation("y.shape: expected ${shape.contentToString()}, got ${y.shape().contentToString()}")
        if (y.dtype() != backend.precision().dtype() && !(backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64 && y.dtype() == DType.FLOAT64)) throw ContractViolation("y.dtype: expected ${backend.precision().dtype()}, got ${y.dtype()}")
    }

    /**
     * The rounding scale of a layer's `y` ([Accuracy]'s `scale`): `max|y|`, or what the output projection sums if
     * larger, `max_n sum_m |W_o[n, m]| * max|v| + max|b_o|` with `max|v|` bounding the attention output (a convex
     * combination of value rows). On small outputs `y` can be small by cancellation while its terms are not.
     */
    private fun yScale(ref: Tensor, vBound: Double, wO: Tensor, bO: Tensor?): Double {
        val w = wO.toDoubleArray()
        val cols = wO.size(1)
        var rowSum = 0.0
        for (n in 0 until wO.size(0)) {
            var acc = 0.0
            for (m in 0 until cols) acc += abs(w[n * cols + m])
            rowSum = maxOf(rowSum, acc)
        }
        return maxOf(Accuracy.maxAbs(ref), rowSum * vBound + Accuracy.maxAbs(bO))
    }

    /** The largest `max_f sum_i |W[f, i]|` of a `[out, in]` matrix. */
    private fun maxRowAbsSum(wt: Tensor): Double {
        val w = wt.toDoubleArray()
        val cols = wt.size(1)
        var best = 0.0
        for (r in 0 until wt.size(0)) {
            var acc = 0.0
            for (c in 0 until cols) acc += abs(w[r * cols + c])
            best = maxOf(best, acc)
        }
        return best
    }

    /** Bound on `|v|` of a standard layer: `max|memory| * max_f sum_i |W_v[f, i]| + max|b_v|`. */
    private fun scaleOf(c: StandardLayerCase, ref: Tensor): Double {
        val mem = c.activations.kvX ?: c.activations.x
        val v = Accuracy.maxAbs(mem) * maxRowAbsSum(c.weights.wv()) + Accuracy.maxAbs(c.weights.bv())
        return yScale(ref, v, c.weights.wo(), c.weights.bo())
    }

    /** Bound on `|v|` of an MLA layer: `|c_kv| <= sqrt(r) max|gain|` (RMSNorm), times `max_f sum_c |W_kv_b[f, c]|`. */
    private fun scaleOf(c: MlaLayerCase, ref: Tensor): Double {
        val latent = kotlin.math.sqrt(c.kvLoraRank.toDouble()) * Accuracy.maxAbs(c.weights.kvANorm())
        return yScale(ref, latent * maxRowAbsSum(c.weights.wKvB()), c.weights.wO(), null)
    }

    private fun judge(name: String, actual: Tensor, ref: Tensor, naive: Tensor?, precision: Precision, scale: Double): CaseOutcome {
        val v = Accuracy.compare(name, actual, ref, naive, precision, scale)
        return if (v.passed) CaseOutcome.Ok(v.ratio) else CaseOutcome.Bad(v.detail!!)
    }

    /** Runs every chunk through `step` and concatenates the outputs along the sequence axis. */
    private fun steps(backend: AttentionBackend, plan: LayerPlan, a: Activations, batch: Int, hidden: Int): Tensor {
        val len = a.x.size(1)
        val cache = plan.newCache(batch, len)
        val y = DoubleTensor.zeros(batch, len, hidden)
        var at = 0
        for (n in a.chunks) {
            val part = plan.step(a.x.slice(1, at, n), cache)
            checkY(backend, part, intArrayOf(batch, n, hidden))
            Tensors.copyInto(part, y.slice(1, at, n))
            at += n
        }
        for (s in 0 until batch) {
            if (cache.length(s) != len) throw ContractViolation("after steps adding up to $len tokens, the cache holds ${cache.length(s)} for sequence $s")
        }
        // Report in the backend's dtype so the accuracy rule sees what the backend produced.
        return if (backend.precision() == Precision.FLOAT32) org.attn4j.api.FloatTensor.copyOf(y) else y
    }

    private fun standard(name: String, description: String, profile: Map<StandardLayerGene, Domain>) = TckCheck(name, description) { backend, config ->
        PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
            val a = c.activations
            val (y, declined) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { it.forward(a.x, a.kvX, a.keyPaddingMask) }
            if (declined != null) return@run declined
            try {
                checkY(backend, y!!, intArrayOf(c.batch, c.qLen, c.hidden))
            } catch (e: ContractViolation) {
                return@run CaseOutcome.Bad(e.message!!)
            }
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, a.kvX, a.keyPaddingMask) else null
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            judge("y", y, ref, naive, backend.precision(), scaleOf(c, ref))
        }
    }

    /** Causal, bottom-right self-attention fed in chunks must equal one call (future tokens are hidden either way). */
    private fun standardSteps(name: String, description: String) = TckCheck(name, description) { backend, config ->
        val profile = mapOf(StandardLayerGene.CAUSAL to ON, StandardLayerGene.ALIGN to GenePool.only(0), StandardLayerGene.Q_LEN to GenePool.indices(LayerTables.LENGTHS.size))
        PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
            val a = c.activations
            val (pair, declined) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { plan ->
                steps(backend, plan, a, c.batch, c.hidden) to plan.forward(a.x, null, null)
            }
            if (declined != null) return@run declined
            val (stepped, oneCall) = pair!!
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, null, null) else null
            val scale = scaleOf(c, ref)
            val v = judge("y (steps ${a.chunks.contentToString()})", stepped, ref, naive, backend.precision(), scale)
            if (v !is CaseOutcome.Ok) return@run v
            val w = judge("y (one call)", oneCall, ref, naive, backend.precision(), scale)
            if (w !is CaseOutcome.Ok) return@run w
            // Metamorphic: the backend's chunked result equals its own one-call result.
            val (ratio, problem) = Agree.check("y", stepped, oneCall, 2 * Accuracy.allowance(ref, naive, backend.precision(), scale))
            if (problem != null) CaseOutcome.Bad("steps ${a.chunks.contentToString()} vs one call: $problem") else CaseOutcome.Ok(maxOf(v.ratio, w.ratio, ratio))
        }
    }

    private fun mlaProfile(path: PlanOptions.MlaPath): Map<MlaLayerGene, Domain> =
        mapOf(MlaLayerGene.PATH to GenePool.only(if (path == PlanOptions.MlaPath.ABSORBED) 1 else 0))

    private fun mla(name: String, path: PlanOptions.MlaPath) = TckCheck(name,
        "MLA layers on the ${path.name.lowercase()} path: RoPE halves and interleaved, with and without q LoRA, offsets, key padding") { backend, config ->
        PropertyRunner.run(name, MlaLayerCase.arb(mlaProfile(path)), config, config.layerIterations) { c ->
            val a = c.activations
            val (y, declined) = withLayer(backend, c.config, c.weights, c.path) { it.forward(a.x, null, a.keyPaddingMask) }
            if (declined != null) return@run declined
            try {
                checkY(backend, y!!, intArrayOf(c.batch, c.len, c.hidden))
            } catch (e: ContractViolation) {
                return@run CaseOutcome.Bad(e.message!!)
            }
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, a.keyPaddingMask) else null
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            judge("y", y, ref, naive, backend.precision(), scaleOf(c, ref))
        }
    }

    /** MLA fed through its latent cache in chunks equals the reference in one call (causal, bottom-right). */
    private fun mlaSteps(): TckCheck {
        val name = "layer/mla-kv-cache-steps"
        return TckCheck(name, "MLA decoding through the latent cache (both paths) equals the reference in one call") { backend, config ->
            val profile = mapOf(MlaLayerGene.CAUSAL to GenePool.only(1), MlaLayerGene.ALIGN to GenePool.only(0), MlaLayerGene.KEY_PAD to GenePool.only(0))
            PropertyRunner.run(name, MlaLayerCase.arb(profile), config, config.layerIterations) { c ->
                val a = c.activations
                val (stepped, declined) = withLayer(backend, c.config, c.weights, c.path) { plan -> steps(backend, plan, a, c.batch, c.hidden) }
                if (declined != null) return@run declined
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, null) else null
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                judge("y (steps ${a.chunks.contentToString()})", stepped!!, ref, naive, backend.precision(), scaleOf(c, ref))
            }
        }
    }

    /** Metamorphic: the naive and absorbed paths of the same backend agree. */
    private fun mlaPathsAgree(): TckCheck {
        val name = "meta/mla-paths-agree"
        return TckCheck(name, "the backend's naive and absorbed MLA paths give the same output") { backend, config ->
            PropertyRunner.run(name, MlaLayerCase.arb(emptyMap()), config, config.layerIterations, resample = true) { c ->
                val a = c.activations
                val (naivePath, d1) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { it.forward(a.x, null, a.keyPaddingMask) }
                if (d1 != null) return@run d1
                val (absorbed, d2) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.ABSORBED) { it.forward(a.x, null, a.keyPaddingMask) }
                if (d2 != null) return@run d2
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, a.keyPaddingMask) else null
                val (ratio, problem) = Agree.check("y", naivePath!!, absorbed!!, 2 * Accuracy.allowance(ref, naive, backend.precision(), scaleOf(c, ref)))
                if (problem != null) CaseOutcome.Bad("naive vs absorbed path: $problem") else CaseOutcome.Ok(ratio)
            }
        }
    }
}
