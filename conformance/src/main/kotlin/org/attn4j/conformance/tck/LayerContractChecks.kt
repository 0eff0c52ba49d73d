package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor

/**
 * Bad arguments to a valid layer plan: `forward` and `step` must throw an [AttentionException] (never a wrong answer,
 * NaN, an index exception or a hang), and a failed `step` must leave its cache as it was. The activations `x = 1e38`
 * probe accepts either an [AttentionException] (a float32 backend's projections overflow) or a finite `y`.
 */
object LayerContractChecks {
    val ALL: List<TckCheck> by lazy { listOf(standard(), mla()) }

    private fun standard(): TckCheck {
        val name = "layer/rejects-bad-input"
        return TckCheck(name, "MHA/MQA/GQA forward() and step() with wrong shapes, NaN, unfitting caches: AttentionException, cache unchanged") { backend, config ->
            PropertyRunner.run(name, StandardLayerCase.arb(mapOf(StandardLayerGene.CAUSAL to GenePool.only(1), StandardLayerGene.ALIGN to GenePool.only(0))),
                config, config.layerIterations, resample = true) { c ->
                val a = c.activations
                val wrongKvHeads = { b: Int, len: Int -> ContiguousKvCache(KvCacheSpec(DType.FLOAT32, b, c.kvHeads + 1, len, c.headDim, c.headDim)) }
                val wrongHeadDim = { b: Int, len: Int -> ContiguousKvCache(KvCacheSpec(DType.FLOAT32, b, c.kvHeads, len, c.headDim + 1, c.headDim + 1)) }
                case(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE, c.batch, c.qLen, c.hidden, a.x,
                    listOf("kvX with hidden + 1" to FloatTensor.zeros(c.batch, maxOf(1, c.kvLen), c.hidden + 1)),
                    listOf("a cache with kv_heads + 1" to wrongKvHeads, "a cache with head_dim + 1" to wrongHeadDim))
            }
        }
    }

    private fun mla(): TckCheck {
        val name = "layer/mla-rejects-bad-input"
        return TckCheck(name, "MLA forward() and step() with wrong shapes, NaN, a memory (MLA is self-attention), unfitting caches: AttentionException, cache unchanged") { backend, config ->
            PropertyRunner.run(name, MlaLayerCase.arb(mapOf(MlaLayerGene.CAUSAL to GenePool.only(1), MlaLayerGene.ALIGN to GenePool.only(0))),
                config, config.layerIterations, resample = true) { c ->
                val width = c.kvLoraRank + c.rope
                val withValues = { b: Int, len: Int -> ContiguousKvCache(KvCacheSpec(DType.FLOAT32, b, 1, len, width, width)) }
                val wider = { b: Int, len: Int -> ContiguousKvCache(KvCacheSpec(DType.FLOAT32, b, 1, len, width + 1, 0)) }
                val twoHeads = { b: Int, len: Int -> ContiguousKvCache(KvCacheSpec(DType.FLOAT32, b, 2, len, width, 0)) }
                case(backend, c.config, c.weights, c.path, c.batch, c.len, c.hidden, c.activations.x,
                    listOf("a cross-attention memory (MLA layers are self-attention only)" to FloatTensor.zeros(c.batch, maxOf(1, c.len), c.hidden)),
                    listOf("a cache with values" to withValues, "a latent cache of width kv_lora_rank + rope + 1" to wider,
                        "a latent cache with 2 heads" to twoHeads))
            }
        }
    }

    private fun case(backend: AttentionBackend, config: LayerConfig, weights: LayerWeights, path: PlanOptions.MlaPath, batch: Int, len: Int,
                     hidden: Int, x: Tensor, badMemories: List<Pair<String, Tensor>>,
                     badCaches: List<Pair<String, (Int, Int) -> KvCache>>): CaseOutcome {
        val support = backend.supportLayer(config)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        backend.planLayer(config, weights, Runs.OPTIONS.withMlaPath(path)).use { plan ->
            val forward = ArrayList<Pair<String, () -> Any?>>()
            forward += "x with hidden + 1" to { plan.forward(FloatTensor.zeros(batch, len, hidden + 1), null, null) }
            forward += "x of rank 2" to { plan.forward(FloatTensor.zeros(batch * len, hidden), null, null) }
            forward += "null x" to { plan.forward(null, null, null) }
            if (len > 0) forward += "NaN in x" to { plan.forward(poisoned(x), null, null) }
            forward += "a key padding mask of shape [B, L + 1]" to { plan.forward(x, null, BoolTensor.of(BooleanArray(batch * (len + 1)) { true }, batch, len + 1)) }
            for ((what, memory) in badMemories) forward += what to { plan.forward(x, memory, null) }
            for ((what, call) in forward) {
                Runs.notRefused(call)?.let { return CaseOutcome.Bad("forward with $what: expected an AttentionException, but it $it") }
            }
            // A float32 backend cannot hold x·W for x = 1e38: an AttentionException, or (a wider backend) a finite y.
            if (len > 0) {
                val huge = FloatTensor.of(FloatArray(batch * len * hidden) { if (it % 2 == 0) 1e38f else -1e38f }, batch, len, hidden)
                val y = try {
                    plan.forward(huge, null, null)
                } catch (e: AttentionException) {
                    null
                } catch (e: Exception) {
                    return CaseOutcome.Bad("forward with x = +-1e38: expected y or an AttentionException, but it threw ${PropertyRunner.describe(e)}")
                }
                if (y != null && y.toDoubleArray().any { !it.isFinite() }) {
                    return CaseOutcome.Bad("forward with x = +-1e38 returned a non-finite y with no AttentionException")
                }
            }
            // step: a cache holding one token of a valid chunk, then bad calls; none may change it.
            val cache = plan.newCache(batch, len + 1)
            if (len > 0) plan.step(x.slice(1, 0, 1), cache)
            val before = snapshot(cache)
            val room = len + 1 - (if (len > 0) 1 else 0)
            val step = ArrayList<Pair<String, () -> Any?>>()
            step += "x with hidden + 1" to { plan.step(FloatTensor.zeros(batch, 1, hidden + 1), cache) }
            step += "x with one sequence more than the cache" to { plan.step(FloatTensor.zeros(batch + 1, 1, hidden), cache) }
            step += "a chunk of ${room + 1} tokens where ${room} fit" to { plan.step(FloatTensor.zeros(batch, room + 1, hidden), cache) }
            step += "NaN in x" to { plan.step(poisoned(FloatTensor.zeros(batch, 1, hidden)), cache) }
            step += "null cache" to { plan.step(FloatTensor.zeros(batch, 1, hidden), null) }
            for ((what, call) in step) {
                Runs.notRefused(call)?.let { return CaseOutcome.Bad("step with $what: expected an AttentionException, but it $it") }
                if (snapshot(cache) != before) return CaseOutcome.Bad("step with $what changed the cache")
            }
            for ((what, make) in badCaches) {
                val other = make(batch, len + 1) // made here: a constructor's own exception must not count as the plan's
                Runs.notRefused { plan.step(FloatTensor.zeros(batch, 1, hidden), other) }
                    ?.let { return CaseOutcome.Bad("step with $what: expected an AttentionException, but it $it") }
                if (other.lengths().any { it != 0 }) return CaseOutcome.Bad("step with $what appended to that cache")
            }
        }
        return CaseOutcome.Ok()
    }

    /** Lengths and every stored key and value, to tell whether a call wrote to the cache. */
    private fun snapshot(cache: KvCache): List<Any> = (0 until cache.sequences()).flatMap { s ->
        listOf(cache.length(s), cache.keys(s).toDoubleArray().toList()) +
            (if (cache.vHeadDim() > 0) listOf(cache.values(s).toDoubleArray().toList()) else emptyList())
    }

    private fun poisoned(t: Tensor): Tensor {
        val d = DoubleTensor.copyOf(t)
        d.data()[0] = Double.NaN
        return d
    }
}
