package org.attn4j.conformance.tck

import org.attn4j.api.Precision
import org.attn4j.api.Tensor
import kotlin.math.abs

/**
 * The accuracy rule, after FlashAttention's tests: with `ref64` the float64 reference and `naive32` a
 * straightforward float32 evaluation of the same case ([org.attn4j.reference.Naive32]),
 *
 * ```
 * max |backend - ref64|  <=  2 * max |naive32 - ref64|  +  1e-6 * scale  +  conditioning     (float32 backends)
 * max |backend - ref64|  <=  1e-9 * max(1, scale)                                             (float64 backends)
 * ```
 *
 * maxima over all elements of the tensor whose reference value is finite. `scale` is the magnitude float32
 * rounding works at (so `1e-6 * scale` is about 8 ulps of it): for `out`, the largest of `|ref64|` and `|V|`
 * (an output can be small by cancellation while its terms are not); for `lse`, `max(1, |ref64|)` (it is
 * `m + ln(sum)` with `sum >= 1`); for a layer's `y`, the larger of `|ref64|` and the magnitude its output
 * projection sums (see `LayerChecks`). Where the reference is infinite (the `lse` of a row
 * that sees no key and has no sink is `-inf`) the backend must give the same infinity. NaN is never accepted,
 * and a finite reference value must come out finite.
 *
 * `conditioning` is what a few float32 roundings in each score cost when the scores are large. A float32 dot
 * product of length `D` is off by about `u * S` (`u = 2^-24`, `S = scale * sum_c |q_c k_c|`), whatever order it sums
 * in, and a score error `e` moves `out` by up to `e * max|V|` and `lse` by up to `e`. With scores of 300 or 1e4 this
 * dwarfs the naive evaluation's own error on small tensors, where that error is one lucky draw: summation order,
 * FMA or a pre-scaled `q` (all legitimate) then differ from it 10-50x (measured). So kernels add
 * `4 u S_max max|V|` for `out` and `4 u S_max` for `lse` ([scoreConditioning]); for ordinary scores (|s| ~ 1)
 * this is about 1e-6 and the rule stays FlashAttention's.
 */
object Accuracy {
    /** The absolute term per unit of scale: about 8 float32 ulps. */
    const val FLOAT32_ATOL = 1e-6
    const val FLOAT64_RTOL = 1e-9

    /**
     * One tensor's verdict.
     *
     * @property ratio  `error / allowed` (<= 1 passes; infinite for a NaN or a wrong infinity)
     * @property detail human-readable evidence when it fails
     */
    data class Verdict(val ratio: Double, val detail: String?) {
        val passed: Boolean get() = detail == null
    }

    /** The largest finite `|x|` of a tensor (0 for none). */
    fun maxAbs(t: Tensor?): Double {
        if (t == null) return 0.0
        var m = 0.0
        for (x in t.toDoubleArray()) if (x.isFinite()) m = maxOf(m, abs(x))
        return m
    }

    /**
     * Compares [actual] (the backend's) with [ref] (float64 reference) under the rule for [precision];
     * [naive] is the float32 evaluation (required for float32 backends); [scale] as described above
     * (default: the largest finite `|ref|`).
     */
    fun compare(name: String, actual: Tensor, ref: Tensor, naive: Tensor?, precision: Precision, scale: Double = maxAbs(ref),
                conditioning: Double = 0.0): Verdict {
        if (!actual.shape().contentEquals(ref.shape())) {
            return Verdict(Double.POSITIVE_INFINITY, "$name.shape: expected ${ref.shape().contentToString()}, got ${actual.shape().contentToString()}")
        }
        val a = actual.toDoubleArray()
        val r = ref.toDoubleArray()
        val nv = naive?.toDoubleArray()
        var errB = 0.0
        var errN = 0.0
        var worstAt = -1
        for (i in r.indices) {
            if (r[i].isInfinite()) {
                if (a[i] != r[i]) return Verdict(Double.POSITIVE_INFINITY, "$name${index(ref, i)}: expected ${r[i]}, got ${a[i]}")
                continue
            }
            if (!a[i].isFinite()) return Verdict(Double.POSITIVE_INFINITY, "$name${index(ref, i)}: expected ${r[i]}, got ${a[i]}")
            val e = abs(a[i] - r[i])
            if (e > errB) {
                errB = e
                worstAt = i
            }
            if (nv != null && nv[i].isFinite()) errN = maxOf(errN, abs(nv[i] - r[i]))
        }
        val allowed = allowed(errN, scale, precision, conditioning)
        val ratio = errB / allowed
        if (errB <= allowed) return Verdict(ratio, null)
        val at = index(ref, worstAt)
        val rule = if (precision == Precision.FLOAT64) "1e-9 * max(1, %.3g) = %.3g".format(scale, allowed)
        else "2 * %.3g (naive float32 error) + 1e-6 * %.3g%s = %.3g".format(errN, scale,
            if (conditioning > 0) " + %.3g (score conditioning)".format(conditioning) else "", allowed)
        return Verdict(ratio, "$name: max |backend - ref64| = %.3g at %s (backend %s, ref64 %s) exceeds %s (ratio %.1f)"
            .format(errB, at, a[worstAt], r[worstAt], rule, ratio))
    }

    /**
     * The rule's allowance for one result (see the class comment). Metamorphic checks allow two results of one
     * backend to differ by the sum of their allowances (each may be that far from its reference, and the
     * references are equal).
     */
    fun allowance(ref: Tensor, naive: Tensor?, precision: Precision, scale: Double = maxAbs(ref), conditioning: Double = 0.0): Double {
        val r = ref.toDoubleArray()
        val n = naive?.toDoubleArray()
        var noise = 0.0
        if (n != null) for (i in r.indices) if (r[i].isFinite() && n[i].isFinite()) noise = maxOf(noise, abs(n[i] - r[i]))
        return allowed(noise, scale, precision, conditioning)
    }

    /** The allowance from the naive float32 error [noise], the [scale] and the [conditioning] term. */
    fun allowed(noise: Double, scale: Double, precision: Precision, conditioning: Double = 0.0): Double =
        if (precision == Precision.FLOAT64) FLOAT64_RTOL * maxOf(1.0, scale)
        else 2 * noise + FLOAT32_ATOL * scale + conditioning + java.lang.Float.MIN_NORMAL

    /** The float32 unit roundoff, `2^-24`. */
    const val U32 = 5.960464477539063e-8

    /**
     * `4 u S_max`: `S_max` bounds every score's float32 rounding scale, `scale * sum_c |q_c k_c|` over all query/key
     * pairs, plus the largest `|bias|` and ALiBi term (added in float32 too). Multiply by `max|V|` for `out`.
     *
     * @param spec   the attention
     * @param inputs `q [B, Hq, Lq, D]`, `k [B, Hkv, Lk, D]` and the optional inputs
     */
    fun scoreConditioning(spec: org.attn4j.api.AttentionSpec, inputs: org.attn4j.api.AttentionInputs): Double {
        val q = inputs.q().toDoubleArray()
        val k = inputs.k().toDoubleArray()
        val b = inputs.batch()
        val lq = inputs.qLen()
        val lk = inputs.kvLen()
        val d = spec.headDim()
        val group = spec.qHeads() / spec.kvHeads()
        var s = 0.0
        for (bi in 0 until b) for (h in 0 until spec.qHeads()) for (i in 0 until lq) for (j in 0 until lk) {
            val qa = ((bi * spec.qHeads() + h) * lq + i) * d
            val ka = ((bi * spec.kvHeads() + h / group) * lk + j) * d
            var acc = 0.0
            for (c in 0 until d) acc += abs(q[qa + c] * k[ka + c])
            s = maxOf(s, acc)
        }
        s *= spec.effectiveScale()
        s += maxAbs(inputs.bias()) + maxAbs(inputs.alibiSlopes()) * (lq + lk)
        return 4 * U32 * s
    }

    /** `[i0, i1, ...]` of the flat row-major index [flat] in [t]'s shape. */
    fun index(t: Tensor, flat: Int): String {
        if (flat < 0) return "[]"
        val s = t.shape()
        val idx = IntArray(s.size)
        var rest = flat
        for (d in s.indices.reversed()) {
            idx[d] = if (s[d] == 0) 0 else rest % s[d]
            rest = if (s[d] == 0) 0 else rest / s[d]
        }
        return idx.contentToString()
    }
}
