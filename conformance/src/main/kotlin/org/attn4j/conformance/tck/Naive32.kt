package org.attn4j.conformance.tck

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.cos
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max
import kotlin.math.pow
import kotlin.math.sin
import kotlin.math.sqrt
import kotlin.math.tanh

/**
 * The straightforward float32 evaluation the accuracy rule measures backends against (FlashAttention's test
 * rule: a backend may be at most twice as far from the float64 reference as this is, plus a small absolute term).
 *
 * Plain loops over `float`, in the order of FORMAT.md's five score steps: no tiling, no online softmax, no
 * fused multiply-add, one accumulator per dot product. It is *not* an oracle (the float64 reference is); it
 * only says how much error float32 arithmetic naturally makes on a case.
 */
object Naive32 {
    /**
     * Attention in float32.
     *
     * @param spec   what is computed
     * @param inputs `q [B, Hq, Lq, D]`, `k [B, Hkv, Lk, D]`, `v [B, Hkv, Lk, Dv]` and the optional inputs
     * @return `out [B, Hq, Lq, Dv]` and `lse [B, Hq, Lq]` as [FloatTensor]s
     */
    fun attend(spec: AttentionSpec, inputs: AttentionInputs): AttentionOutput {
        val b = inputs.batch()
        val hq = spec.qHeads()
        val lq = inputs.qLen()
        val lk = inputs.kvLen()
        val d = spec.headDim()
        val dv = spec.vHeadDim()
        val hkv = spec.kvHeads()
        val scores = intArrayOf(b, hq, lq, lk)
        val q = inputs.q().toFloatArray()
        val k = inputs.k().toFloatArray()
        val v = inputs.v().toFloatArray()
        val bias = inputs.bias()?.broadcastTo(*scores)
        val mask = inputs.mask()?.broadcastTo(*scores)
        val slopes = inputs.alibiSlopes()?.toFloatArray()
        val sinks = inputs.sinks()?.toFloatArray()
        val kvLens = inputs.kvLens()?.toIntArray()
        val scale = spec.effectiveScale().toFloat()
        val softcap = spec.softcap().toFloat()

        val out = FloatArray(Tensor.elementCount(b, hq, lq, dv))
        val lse = FloatArray(Tensor.elementCount(b, hq, lq))
        val s = FloatArray(lk)
        val visible = BooleanArray(lk)
        for (bi in 0 until b) {
            val lkB = kvLens?.get(bi) ?: lk
            for (h in 0 until hq) {
                val kvh = h / (hq / hkv)
                for (i in 0 until lq) {
                    val row = (bi * hq + h) * lq + i
                    val diag = spec.alignment().diagonal(i, lq, lkB)
                    var any = false
                    for (j in 0 until lk) {
                        visible[j] = j < lkB && (!spec.causal() || j <= diag) && spec.window().contains(diag, j) &&
                            (mask == null || mask.atStorage(at(mask, bi, h, i, j)))
                        if (!visible[j]) continue
                        any = true
                        var dot = 0f
                        val qa = row * d
                        val ka = ((bi * hkv + kvh) * lk + j) * d
                        for (c in 0 until d) dot += q[qa + c] * k[ka + c]
                        var x = scale * dot
                        if (softcap > 0f) x = softcap * tanh((x / softcap).toDouble()).toFloat()
                        if (bias != null) x += bias.doubleAtStorage(at(bias, bi, h, i, j)).toFloat()
                        if (slopes != null) x -= slopes[h] * abs(diag - j).toFloat()
                        s[j] = x
                    }
                    val sink = sinks?.get(h) ?: Float.NEGATIVE_INFINITY
                    if (!any) {
                        lse[row] = sink
                        continue
                    }
                    var m = sink
                    for (j in 0 until lk) if (visible[j]) m = max(m, s[j])
                    var sum = if (sinks == null) 0f else exp((sink - m).toDouble()).toFloat()
                    for (j in 0 until lk) {
                        if (!visible[j]) continue
                        s[j] = exp((s[j] - m).toDouble()).toFloat()
                        sum += s[j]
                    }
                    val oa = row * dv
                    for (j in 0 until lk) {
                        if (!visible[j]) continue
                        val p = s[j] / sum
                        val va = ((bi * hkv + kvh) * lk + j) * dv
                        for (c in 0 until dv) out[oa + c] += p * v[va + c]
                    }
                    lse[row] = m + ln(sum.toDouble()).toFloat()
                }
            }
        }
        return AttentionOutput(FloatTensor.of(out, b, hq, lq, dv), FloatTensor.of(lse, b, hq, lq))
    }

    /**
     * An MHA/MQA/GQA layer in float32 (FORMAT.md "kind = layer"): project, split heads, attend, merge, project.
     *
     * @param x              `[B, Lq, hidden]`
     * @param kvX            `[B, Lk, hidden]` or null (self-attention)
     * @param keyPaddingMask `[B, Lk]` (true = keep) or null
     * @return `y [B, Lq, hidden]`
     */
    fun standardLayer(c: StandardLayerConfig, w: StandardLayerWeights, x: Tensor, kvX: Tensor?, keyPaddingMask: BoolTensor?): FloatTensor {
        val b = x.size(0)
        val lq = x.size(1)
        val mem = kvX ?: x
        val lk = mem.size(1)
        val q = linear(x.toFloatArray(), b * lq, c.hidden(), w.wq(), w.bq())
        val k = linear(mem.toFloatArray(), b * lk, c.hidden(), w.wk(), w.bk())
        val v = linear(mem.toFloatArray(), b * lk, c.hidden(), w.wv(), w.bv())
        var inputs = AttentionInputs.of(splitHeads(q, b, lq, c.qHeads(), c.headDim()), splitHeads(k, b, lk, c.kvHeads(), c.headDim()),
            splitHeads(v, b, lk, c.kvHeads(), c.headDim()))
        if (keyPaddingMask != null) inputs = inputs.withMask(keyPaddingMask.copy().reshape(b, 1, 1, lk))
        val o = attend(c.attentionSpec(), inputs).out() as FloatTensor
        return FloatTensor.of(linear(mergeHeads(o), b * lq, c.qHeads() * c.headDim(), w.wo(), w.bo()), b, lq, c.hidden())
    }

    /**
     * An MLA layer in float32 on the naive path (decompress the latent into per-head K and V), FORMAT.md
     * "variant mla". Token `t` sits at position `position_offset + t`.
     *
     * @param x              `[B, L, hidden]`
     * @param keyPaddingMask `[B, L]` (true = keep) or null
     * @return `y [B, L, hidden]`
     */
    fun mlaLayer(c: MlaLayerConfig, w: MlaLayerWeights, x: Tensor, keyPaddingMask: BoolTensor?): FloatTensor {
        val b = x.size(0)
        val l = x.size(1)
        val hidden = c.hidden()
        val heads = c.qHeads()
        val nope = c.qkNopeHeadDim()
        val rope = c.qkRopeHeadDim()
        val qk = c.qkHeadDim()
        val vd = c.vHeadDim()
        val r = c.kvLoraRank()
        val xs = x.toFloatArray()
        val qFlat = if (c.qLoraRank() == 0) {
            linear(xs, b * l, hidden, w.wQ(), null)
        } else {
            val qa = linear(xs, b * l, hidden, w.wQA(), null)
            val norm = w.qANorm().toFloatArray()
            for (row in 0 until b * l) rmsNorm(qa, row * c.qLoraRank(), c.qLoraRank(), norm, c.rmsEps())
            linear(qa, b * l, c.qLoraRank(), w.wQB(), null)
        }
        val lat = linear(xs, b * l, hidden, w.wKvA(), null)                 // [B*L, r + rope]
        val kvNorm = w.kvANorm().toFloatArray()
        val width = r + rope
        for (bi in 0 until b) {
            for (t in 0 until l) {
                val pos = c.positionOffset().toLong() + t
                val row = bi * l + t
                rmsNorm(lat, row * width, r, kvNorm, c.rmsEps())
                rotate(lat, row * width + r, rope, pos, c.ropeTheta(), c.ropeInterleaved())
                for (h in 0 until heads) rotate(qFlat, (row * heads + h) * qk + nope, rope, pos, c.ropeTheta(), c.ropeInterleaved())
            }
        }
        val wkvb = w.wKvB().toFloatArray()                                   // [H*(nope+vd), r]
        val k = FloatArray(Tensor.elementCount(b, heads, l, qk))
        val v = FloatArray(Tensor.elementCount(b, heads, l, vd))
        for (bi in 0 until b) {
            for (j in 0 until l) {
                val ca = (bi * l + j) * width
                for (h in 0 until heads) {
                    val ka = ((bi * heads + h) * l + j) * qk
                    val va = ((bi * heads + h) * l + j) * vd
                    val uk = h * (nope + vd) * r
                    for (m in 0 until nope) k[ka + m] = dot(wkvb, uk + m * r, lat, ca, r)
                    for (m in 0 until rope) k[ka + nope + m] = lat[ca + r + m]
                    for (m in 0 until vd) v[va + m] = dot(wkvb, uk + (nope + m) * r, lat, ca, r)
                }
            }
        }
        var inputs = AttentionInputs.of(splitHeads(qFlat, b, l, heads, qk), FloatTensor.of(k, b, heads, l, qk), FloatTensor.of(v, b, heads, l, vd))
        if (keyPaddingMask != null) inputs = inputs.withMask(keyPaddingMask.copy().reshape(b, 1, 1, l))
        val o = attend(c.attentionSpec(), inputs).out() as FloatTensor
        return FloatTensor.of(linear(mergeHeads(o), b * l, heads * vd, w.wO(), null), b, l, hidden)
    }

    /** `x [rows, in]` times `w^T` (`w [out, in]`) plus `bias [out]`, accumulated in float. */
    fun linear(x: FloatArray, rows: Int, inF: Int, w: Tensor, bias: Tensor?): FloatArray {
        val out = w.size(0)
        val wd = w.toFloatArray()
        val bd = bias?.toFloatArray()
        val y = FloatArray(rows * out)
        for (r in 0 until rows) {
            for (o in 0 until out) {
                var acc = bd?.get(o) ?: 0f
                for (i in 0 until inF) acc += x[r * inF + i] * wd[o * inF + i]
                y[r * out + o] = acc
            }
        }
        return y
    }

    private fun dot(a: FloatArray, aAt: Int, b: FloatArray, bAt: Int, n: Int): Float {
        var acc = 0f
        for (i in 0 until n) acc += a[aAt + i] * b[bAt + i]
        return acc
    }

    private fun rmsNorm(x: FloatArray, at: Int, n: Int, weight: FloatArray, eps: Double) {
        var ss = 0f
        for (i in 0 until n) ss += x[at + i] * x[at + i]
        val rms = sqrt(ss / n + eps.toFloat())
        for (i in 0 until n) x[at + i] = x[at + i] / rms * weight[i]
    }

    /** RoPE on `v[at, at + dim)`: pair `i` is `(2i, 2i+1)` when interleaved, else `(i, i + dim/2)`. */
    private fun rotate(v: FloatArray, at: Int, dim: Int, pos: Long, theta: Double, interleaved: Boolean) {
        val half = dim / 2
        for (i in 0 until half) {
            val angle = pos * theta.pow(-2.0 * i / dim)
            val cs = cos(angle).toFloat()
            val sn = sin(angle).toFloat()
            val ia = at + if (interleaved) 2 * i else i
            val ib = at + if (interleaved) 2 * i + 1 else i + half
            val a = v[ia]
            val bb = v[ib]
            v[ia] = a * cs - bb * sn
            v[ib] = bb * cs + a * sn
        }
    }

    /** `[B*L, H*D]` row-major to `[B, H, L, D]`. */
    private fun splitHeads(x: FloatArray, b: Int, l: Int, h: Int, d: Int): FloatTensor {
        val out = FloatArray(x.size)
        for (bi in 0 until b) for (t in 0 until l) for (hh in 0 until h) {
            System.arraycopy(x, ((bi * l + t) * h + hh) * d, out, ((bi * h + hh) * l + t) * d, d)
        }
        return FloatTensor.of(out, b, h, l, d)
    }

    /** `[B, H, L, D]` to `[B*L, H*D]` row-major. */
    private fun mergeHeads(t: FloatTensor): FloatArray = t.permute(0, 2, 1, 3).toFloatArray()

    /** Storage index of `[b, h, i, j]` of a rank-4 (broadcast) view. */
    private fun at(t: Tensor, b: Int, h: Int, i: Int, j: Int): Int =
        t.offset() + b * t.stride(0) + h * t.stride(1) + i * t.stride(2) + j * t.stride(3)
}
