package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.Tensor
import org.attn4j.conformance.tck.KernelGenes.GROUPED
import org.attn4j.conformance.tck.KernelGenes.force
import org.attn4j.conformance.tck.KernelGenes.heads
import org.attn4j.conformance.tck.KernelGenes.maybe
import java.util.SplittableRandom
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max

/**
 * Properties that need no oracle: two runs of the *same backend* on related inputs must agree. The allowance
 * is the sum of both calls' accuracy allowances ([Accuracy.allowance]); the reference only sizes it.
 */
object MetamorphicChecks {
    val ALL: List<TckCheck> by lazy { listOf(gqaRepeat(), kvSplit(), keyPermutation(), biasRowShift(), valueScale()) }

    /** Options that do not depend on key positions: the ones key permutation must leave alone. */
    private val POSITION_FREE = maybe(0.3, KernelGene.BIAS, KernelGene.MASK, KernelGene.SINKS, KernelGene.SOFTCAP, KernelGene.SCALE) + mapOf(KernelGene.KV_LENS to GenePool.only(0))

    private fun check(name: String, description: String, profile: Map<KernelGene, Domain>, relation: (AttentionBackend, KernelCase) -> CaseOutcome) =
        TckCheck(name, description) { backend, config ->
            // A relation tests the backend against itself, whatever features it has: cases within what it supports.
            PropertyRunner.run(name, KernelChecks.contractArb(backend, name, profile, config), config, maxOf(2, config.iterations / 2),
                resample = true) { relation(backend, it) }
        }

    /** One side of a relation: the call and what the backend returned for it. */
    private class Side(val spec: AttentionSpec, val inputs: AttentionInputs, val output: AttentionOutput) {
        fun expected(backend: AttentionBackend) = Expected.of(spec, inputs, backend.precision())
    }

    /** Runs the backend on each call; returns the sides, or the declined/bad outcome. */
    private fun runAll(backend: AttentionBackend, vararg calls: Pair<AttentionSpec, AttentionInputs>): Pair<List<Side>?, CaseOutcome?> {
        val sides = ArrayList<Side>()
        for ((spec, inputs) in calls) {
            val r = try {
                Runs.kernel(backend, spec, inputs)
            } catch (e: ContractViolation) {
                return null to CaseOutcome.Bad(e.message!!)
            }
            when (r) {
                is Runs.Ran.Declined -> return null to CaseOutcome.Declined(r.reasons)
                is Runs.Ran.Done -> sides += Side(spec, inputs, r.output)
            }
        }
        return sides to null
    }

    /**
     * Compares [a] with [b] (out, and lse when both have it): they may differ by the sum of their own cases'
     * allowances. [outFactor] divides [b]'s out (and its allowance) first.
     */
    private fun agree(backend: AttentionBackend, a: Side, b: Side, what: String, compareLse: Boolean = true, outFactor: Double = 1.0): CaseOutcome {
        val p = backend.precision()
        val ea = a.expected(backend)
        val eb = b.expected(backend)
        val bOut = if (outFactor == 1.0) b.output.out()
        else DoubleTensor.of(b.output.out().toDoubleArray().map { it / outFactor }.toDoubleArray(), *b.output.out().shape())
        val (ro, po) = Agree.check("out", a.output.out(), bOut, ea.allowance("out", p) + eb.allowance("out", p) / outFactor)
        if (po != null) return CaseOutcome.Bad("$what: $po")
        val la = a.output.lse()
        val lb = b.output.lse()
        if (!compareLse || la == null || lb == null) return CaseOutcome.Ok(ro, if (la == null || lb == null) listOf(Runs.NO_LSE) else emptyList())
        val (rl, pl) = Agree.check("lse", la, lb, ea.allowance("lse", p) + eb.allowance("lse", p))
        if (pl != null) return CaseOutcome.Bad("$what: $pl")
        return CaseOutcome.Ok(max(ro, rl))
    }

    /** GQA/MQA equals MHA with each KV head repeated for its group of query heads. */
    private fun gqaRepeat() = check("meta/gqa-equals-repeated-mha", "GQA/MQA output equals MHA on K/V repeated per query head",
        mapOf(KernelGene.HEADS to heads(GROUPED)) + maybe(0.3, KernelGene.CAUSAL, KernelGene.MASK, KernelGene.BIAS, KernelGene.SINKS, KernelGene.ALIBI, KernelGene.KV_LENS)) { backend, c ->
        val g = c.qHeads / c.kvHeads
        val mha = AttentionSpec(c.qHeads, c.qHeads, c.headDim, c.vHeadDim, c.spec.scale(), c.causal, c.alignment, c.window, c.softcap)
        val inputs = c.inputs
        val repeated = AttentionInputs(inputs.q(), repeatHeads(inputs.k(), g), repeatHeads(inputs.v(), g), inputs.bias(), inputs.mask(),
            inputs.alibiSlopes(), inputs.sinks(), inputs.kvLens())
        val (sides, stop) = runAll(backend, c.spec to inputs, mha to repeated)
        stop ?: agree(backend, sides!![0], sides[1], "GQA (Hkv=${c.kvHeads}) vs MHA on repeated K/V")
    }

    /** `[B, Hkv, L, D]` to `[B, Hkv*g, L, D]`, KV head `h` copied to heads `h*g .. h*g+g-1`. */
    private fun repeatHeads(t: Tensor, g: Int): Tensor {
        val s = t.shape()
        val out = DoubleTensor.zeros(s[0], s[1] * g, s[2], s[3])   // float64: an exact copy for every backend
        for (b in 0 until s[0]) for (h in 0 until s[1] * g) {
            org.attn4j.api.Tensors.copyInto(t.select(0, b).select(0, h / g), out.select(0, b).select(0, h))
        }
        return out
    }

    /**
     * Attention over keys `[0, s)` and over `[s, Lk)` (by masks, or slices of K and V), merged by their LSEs, equals attention over all
     * keys: `out = (e^{l1-m} o1 + e^{l2-m} o2) / (e^{l1-m} + e^{l2-m})`, `lse = m + ln(e^{l1-m} + e^{l2-m})`.
     * Sinks are excluded (a sink would be counted in both halves).
     */
    private fun kvSplit() = check("meta/kv-split-lse-merge", "two halves of the keys (split by masks) merged by LSE equal the whole",
        KernelGenes.everything(0.3) + mapOf(KernelGene.SINKS to GenePool.only(0), KernelGene.LAYOUT to GenePool.only(0))) { backend, c ->
        val split = SplittableRandom(c.dataSeed + 7).nextInt(c.kvLen + 1)
        val scores = intArrayOf(c.batch, c.qHeads, c.qLen, c.kvLen)
        val orig = c.inputs.mask()?.broadcastTo(*scores)
        // Without positional rules, masks or bias the halves are plain slices of K and V: the relation then also
        // runs on a backend without masks, and covers other key lengths.
        val sliceable = c.mask == null && c.bias == null && !c.causal && c.window.isNone && !c.alibi && c.kvLens == KvLensMode.NONE
        fun half(first: Boolean): AttentionInputs {
            if (sliceable) {
                val (from, n) = if (first) 0 to split else split to c.kvLen - split
                val x = c.inputs
                return AttentionInputs(x.q(), x.k().slice(2, from, n), x.v().slice(2, from, n), null, null, null, x.sinks(), null)
            }
            val m = BooleanArray(Tensor.elementCount(*scores))
            var at = 0
            for (b in 0 until c.batch) for (h in 0 until c.qHeads) for (i in 0 until c.qLen) for (j in 0 until c.kvLen) {
                m[at++] = (j < split) == first && (orig == null || orig.get(b, h, i, j))
            }
            return c.inputs.withMask(BoolTensor.of(m, *scores))
        }
        val (sides, stop) = runAll(backend, c.spec to c.inputs, c.spec to half(true), c.spec to half(false))
        if (stop != null) return@check stop
        val (whole, first, second) = sides!!
        if (listOf(whole, first, second).any { it.output.lse() == null }) {
            return@check CaseOutcome.Declined(listOf(Runs.NO_LSE + " (needed to merge)"))
        }
        // The merged result may carry the errors of both halves.
        val merged = Side(c.spec, c.inputs, merge(first.output, second.output))
        val p = backend.precision()
        val e1 = first.expected(backend)
        val e2 = second.expected(backend)
        val ew = whole.expected(backend)
        val what = "split at key $split of ${c.kvLen}, merged by LSE"
        val (ro, po) = Agree.check("out", whole.output.out(), merged.output.out(), ew.allowance("out", p) + e1.allowance("out", p) + e2.allowance("out", p))
        if (po != null) return@check CaseOutcome.Bad("$what: $po")
        val (rl, pl) = Agree.check("lse", whole.output.lse()!!, merged.output.lse()!!, ew.allowance("lse", p) + e1.allowance("lse", p) + e2.allowance("lse", p))
        if (pl != null) return@check CaseOutcome.Bad("$what: $pl")
        CaseOutcome.Ok(max(ro, rl))
    }

    /** Merges two partial attentions over disjoint key sets by their LSEs (in float64). */
    internal fun merge(a: AttentionOutput, b: AttentionOutput): AttentionOutput {
        val shape = a.out().shape()
        val dv = shape[3]
        val oa = a.out().toDoubleArray()
        val ob = b.out().toDoubleArray()
        val la = a.lse()!!.toDoubleArray()
        val lb = b.lse()!!.toDoubleArray()
        val out = DoubleArray(oa.size)
        val lse = DoubleArray(la.size)
        for (r in la.indices) {
            val m = max(la[r], lb[r])
            if (m == Double.NEGATIVE_INFINITY) {
                lse[r] = m                                             // neither half sees a key: out stays 0
                continue
            }
            val wa = exp(la[r] - m)
            val wb = exp(lb[r] - m)
            for (c in 0 until dv) out[r * dv + c] = (wa * oa[r * dv + c] + wb * ob[r * dv + c]) / (wa + wb)
            lse[r] = m + ln(wa + wb)
        }
        return AttentionOutput(DoubleTensor.of(out, *shape), DoubleTensor.of(lse, *a.lse()!!.shape()))
    }

    /** Permuting the keys (K, V, and the key axis of mask and bias alike) leaves the output unchanged. */
    private fun keyPermutation() = check("meta/key-permutation", "permuting keys, values and the mask/bias key axis alike changes nothing",
        POSITION_FREE) { backend, c ->
        val rnd = SplittableRandom(c.dataSeed + 11)
        val perm = IntArray(c.kvLen) { it }
        for (i in perm.indices.reversed()) {
            val j = rnd.nextInt(i + 1)
            perm[i] = perm[j].also { perm[j] = perm[i] }
        }
        val x = c.inputs
        val permuted = AttentionInputs(x.q(), permuteAxis(x.k(), 2, perm), permuteAxis(x.v(), 2, perm),
            x.bias()?.let { if (it.shape().last() == c.kvLen) permuteAxis(it, it.rank() - 1, perm) else it },
            x.mask()?.let { if (it.shape().last() == c.kvLen) permuteAxis(it, it.rank() - 1, perm) as BoolTensor else it },
            x.alibiSlopes(), x.sinks(), x.kvLens())
        val (sides, stop) = runAll(backend, c.spec to x, c.spec to permuted)
        stop ?: agree(backend, sides!![0], sides[1], "keys permuted by ${perm.take(12)}${if (perm.size > 12) "..." else ""}")
    }

    /** A copy of [t] whose index `i` on [axis] holds what index `perm[i]` held. */
    private fun permuteAxis(t: Tensor, axis: Int, perm: IntArray): Tensor {
        val shape = t.shape()
        val n = t.elementCount()
        val idx = IntArray(shape.size)
        return when (t) {
            is BoolTensor -> {
                val out = BooleanArray(n)
                for (f in 0 until n) {
                    unflatten(f, shape, idx)
                    idx[axis] = perm[idx[axis]]
                    out[f] = t.get(*idx)
                }
                BoolTensor.of(out, *shape)
            }
            else -> {
                val out = DoubleArray(n)
                for (f in 0 until n) {
                    unflatten(f, shape, idx)
                    idx[axis] = perm[idx[axis]]
                    out[f] = t.getDouble(*idx)
                }
                DoubleTensor.of(out, *shape)
            }
        }
    }

    private fun unflatten(flat: Int, shape: IntArray, into: IntArray) {
        var rest = flat
        for (d in shape.indices.reversed()) {
            into[d] = rest % shape[d]
            rest /= shape[d]
        }
    }

    /** Adding one constant to a whole bias row (all keys of one query) leaves the output unchanged (softmax shift). */
    private fun biasRowShift() = check("meta/bias-row-shift", "a constant added to every key's bias of a query row changes nothing",
        force(KernelGene.BIAS) + maybe(0.3, KernelGene.CAUSAL, KernelGene.MASK, KernelGene.SOFTCAP, KernelGene.ALIBI, KernelGene.KV_LENS)) { backend, c ->
        val bias = c.inputs.bias()!!
        val shape = bias.shape()
        val rowLen = shape.last()
        // Float64 so the shifted bias is exact for a float64 backend; a float32 backend rounds it (within its noise).
        val values = bias.toDoubleArray()
        val rnd = SplittableRandom(c.dataSeed + 13)
        // One constant per row of the bias array: a row spans the key axis (or is one value broadcast over it).
        for (r in 0 until (if (rowLen == 0) 0 else values.size / rowLen)) {
            val shift = ((rnd.nextDouble() * 2 - 1) * 20).toFloat().toDouble()
            for (j in 0 until rowLen) values[r * rowLen + j] += shift
        }
        val shifted = c.inputs.withBias(DoubleTensor.of(values, *shape))
        val (sides, stop) = runAll(backend, c.spec to c.inputs, c.spec to shifted)
        stop ?: agree(backend, sides!![0], sides[1], "bias rows shifted by constants", compareLse = false)
    }

    /** Scaling V by a factor scales the output by it and leaves the LSE alone. */
    private fun valueScale() = check("meta/value-scale", "V times a factor gives out times that factor, the same lse",
        KernelGenes.everything(0.3) + mapOf(KernelGene.LAYOUT to GenePool.only(0))) { backend, c ->
        val factor = doubleArrayOf(0.125, 3.0, 64.0, 1000.0)[SplittableRandom(c.dataSeed + 17).nextInt(4)]
        val v = c.inputs.v()
        // Float64, so the scaled V is exact for a float64 backend; a float32 backend rounds it (within its noise).
        val scaled = DoubleTensor.of(v.toDoubleArray().map { it * factor }.toDoubleArray(), *v.shape())
        val x = c.inputs
        val (sides, stop) = runAll(backend, c.spec to x,
            c.spec to AttentionInputs(x.q(), x.k(), scaled, x.bias(), x.mask(), x.alibiSlopes(), x.sinks(), x.kvLens()))
        stop ?: agree(backend, sides!![0], sides[1], "V scaled by $factor", outFactor = factor)
    }
}
