package org.attn4j.conformance.tck

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionProblem
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.KvCache
import org.attn4j.api.Tensor
import org.attn4j.conformance.tck.KernelGenes.maybe

/**
 * `AttentionPlan.decode(q, cache)` with arguments that do not fit the plan: it must throw an [AttentionException] and
 * leave the cache as it was. ([KernelChecks]' `kernel/rejects-bad-input` covers `run`; a backend's decode has its own
 * argument checks, which no other check reaches.)
 */
object DecodeContractChecks {
    val ALL: List<TckCheck> by lazy { listOf(check()) }

    private fun check(): TckCheck {
        val name = "kernel/decode-rejects-bad-input"
        val profile = maybe(0.5, KernelGene.CAUSAL) + maybe(0.3, KernelGene.WINDOW)
        return TckCheck(name, "decode() with a q or a cache that does not fit the plan, a top-left plan, NaN in q: throws AttentionException, cache unchanged") { backend, config ->
            PropertyRunner.run(name, KernelChecks.contractArb(backend, name, profile, config), config, maxOf(2, config.iterations / 4), resample = true) { c ->
                decodeCase(backend, c)
            }
        }
    }

    private fun decodeCase(backend: AttentionBackend, c: KernelCase): CaseOutcome {
        val problem = c.inputs.validate(c.spec)
        val support = backend.support(problem)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val cache = backend.newKvCache(c.batch, c.kvHeads, c.kvLen, c.headDim, c.vHeadDim)
        cache.append(c.inputs.k(), c.inputs.v())
        val before = snapshot(cache)
        val q = c.inputs.q()
        fun zeros(vararg shape: Int) = FloatTensor.zeros(*shape)
        val bad = ArrayList<Pair<String, () -> Any?>>()
        backend.plan(problem, Runs.OPTIONS).use { plan ->
            bad += "q with head_dim + 1" to { plan.decode(zeros(c.batch, c.qHeads, c.qLen, c.headDim + 1), cache) }
            bad += "q with one sequence more than the cache" to { plan.decode(zeros(c.batch + 1, c.qHeads, c.qLen, c.headDim), cache) }
            bad += "q with q_heads + 1" to { plan.decode(zeros(c.batch, c.qHeads + 1, c.qLen, c.headDim), cache) }
            bad += "q of rank 3" to { plan.decode(zeros(c.batch, c.qLen, c.qHeads * c.headDim), cache) }
            bad += "q as an int tensor" to { plan.decode(IntTensor.of(IntArray(c.batch * c.qHeads * c.qLen * c.headDim), c.batch, c.qHeads, c.qLen, c.headDim), cache) }
            bad += "null q" to { plan.decode(null, cache) }
            bad += "null cache" to { plan.decode(q, null) }
            if (c.qLen > 0) bad += "NaN in q" to { plan.decode(poisoned(q), cache) }
            bad += "a cache with kv_heads + 1" to { plan.decode(q, other(c, kvHeads = c.kvHeads + 1)) }
            bad += "a cache with head_dim + 1" to { plan.decode(q, other(c, headDim = c.headDim + 1)) }
            bad += "a cache with v_head_dim + 1" to { plan.decode(q, other(c, vHeadDim = c.vHeadDim + 1)) }
            for ((what, call) in bad) {
                val problemText = Runs.notRefused(call)
                if (problemText != null) return CaseOutcome.Bad("decode with $what: expected an AttentionException, but it $problemText")
                if (snapshot(cache) != before) return CaseOutcome.Bad("decode with $what changed the cache")
            }
        }
        // Every case, not only the causal or windowed draws (a run of 10 cases per check drew 2 here): a TOP_LEFT plan
        // with a visibility rule, and a keys-only cache under a plan whose values are wider than its keys.
        val topLeft = c.spec.toBuilder().causal(c.spec.causal() || !c.spec.hasWindow()).alignment(Alignment.TOP_LEFT).build()
        val wide = c.spec.toBuilder().vHeadDim(c.headDim + 1).build()
        val keysOnly = other(c, vHeadDim = 0) // made here: a constructor's own exception must not count as the plan's
        keysOnly.append(c.inputs.k(), null)
        val keysOnlyBefore = snapshot(keysOnly)
        val planned = listOf(
            Triple("a TOP_LEFT plan (decode is bottom-right aligned: the queries are the last tokens)", c.inputs.validate(topLeft), cache),
            Triple("a keys-only cache while v_head_dim > head_dim (values are read from the key rows)",
                AttentionProblem.of(wide, c.batch, c.qLen, c.kvLen), keysOnly),
        )
        for ((what, p, target) in planned) {
            if (!backend.support(p).isSupported) continue
            val outcome = Runs.notRefused { backend.plan(p, Runs.OPTIONS).use { it.decode(q, target) } }
            if (outcome != null) return CaseOutcome.Bad("decode with $what: expected an AttentionException, but it $outcome")
        }
        if (snapshot(cache) != before || snapshot(keysOnly) != keysOnlyBefore) return CaseOutcome.Bad("a refused decode changed the cache")
        return CaseOutcome.Ok()
    }

    /** An empty float32 cache of [c]'s batch with one dimension changed. */
    private fun other(c: KernelCase, kvHeads: Int = c.kvHeads, headDim: Int = c.headDim, vHeadDim: Int = c.vHeadDim): KvCache =
        ContiguousKvCache(DType.FLOAT32, c.batch, kvHeads, maxOf(1, c.kvLen), headDim, vHeadDim)

    /** Lengths and every stored value, to tell whether a call wrote to the cache. */
    private fun snapshot(cache: KvCache): List<Any> = (0 until cache.sequences()).flatMap { s ->
        listOf(cache.length(s), cache.keys(s).toDoubleArray().toList(),
            if (cache.vHeadDim() == 0) emptyList() else cache.values(s).toDoubleArray().toList())
    }

    private fun poisoned(t: Tensor): Tensor {
        val d = DoubleTensor.copyOf(t)
        d.data()[0] = Double.NaN
        return d
    }
}
