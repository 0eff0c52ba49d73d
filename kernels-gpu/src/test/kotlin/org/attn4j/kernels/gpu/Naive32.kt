package org.attn4j.kernels.gpu

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max
import kotlin.math.tanh

/**
 * A plain float32 evaluation of FORMAT.md, written independently of the kernels: straight loops, one row at a time,
 * every operation rounded to float. Only used to calibrate the float32 accuracy rule
 * (|gpu - ref64| <= 2 |naive32 - ref64| + 1e-6); the truth is always the float64 reference.
 */
object Naive32 {
    class Result(val out: FloatArray, val lse: FloatArray)

    fun attend(spec: AttentionSpec, inputs: AttentionInputs): Result {
        val b = inputs.batch(); val hq = spec.qHeads(); val lq = inputs.qLen(); val lk = inputs.kvLen()
        val d = spec.headDim(); val dv = spec.vHeadDim()
        val q = inputs.q().toFloatArray(); val k = inputs.k().toFloatArray(); val v = inputs.v().toFloatArray()
        val scoreShape = intArrayOf(b, hq, lq, lk)
        val bias = inputs.bias()?.broadcastTo(*scoreShape)
        val mask = inputs.mask()?.broadcastTo(*scoreShape)
        val slopes = inputs.alibiSlopes()?.toFloatArray()
        val sinks = inputs.sinks()?.toFloatArray()
        val lens = inputs.kvLens()?.toIntArray()
        val scale = spec.effectiveScale().toFloat()
        val cap = spec.softcap().toFloat()
        val out = FloatArray(b * hq * lq * dv)
        val lse = FloatArray(b * hq * lq)
        val s = FloatArray(lk)
        val vis = BooleanArray(lk)
        for (bb in 0 until b) {
            val lkb = lens?.get(bb) ?: lk
            for (h in 0 until hq) {
                val kvh = spec.kvHeadOf(h)
                for (i in 0 until lq) {
                    val row = (bb * hq + h) * lq + i
                    val di = spec.alignment().diagonal(i, lq, lkb)
                    for (j in 0 until lk) {
                        vis[j] = j < lkb && (!spec.causal() || j <= di) && spec.window().contains(di, j) &&
                            (mask == null || mask.get(bb, h, i, j))
                        if (!vis[j]) continue
                        var dot = 0f
                        for (c in 0 until d) dot += q[row * d + c] * k[((bb * spec.kvHeads() + kvh) * lk + j) * d + c]
                        var x = scale * dot
                        if (cap > 0) x = cap * tanh(x / cap)
                        if (bias != null) x += bias.getDouble(bb, h, i, j).toFloat()
                        if (slopes != null) x -= slopes[h] * abs((di - j).toFloat())
                        s[j] = x
                    }
                    var m = sinks?.get(h) ?: Float.NEGATIVE_INFINITY
                    for (j in 0 until lk) if (vis[j]) m = max(m, s[j])
                    if (m == Float.NEGATIVE_INFINITY) { lse[row] = m; continue }
                    var den = if (sinks != null) exp(sinks[h] - m) else 0f
                    for (j in 0 until lk) if (vis[j]) { s[j] = exp(s[j] - m); den += s[j] }
                    for (j in 0 until lk) {
                        if (!vis[j]) continue
                        val p = s[j] / den
                        for (c in 0 until dv) out[row * dv + c] += p * v[((bb * spec.kvHeads() + kvh) * lk + j) * dv + c]
                    }
                    lse[row] = m + ln(den)
                }
            }
        }
        return Result(out, lse)
    }

    /** `y = x W^T + b` in float, x `[rows, in]`, w `[out, in]`. */
    fun linear(x: FloatArray, rows: Int, w: Tensor, b: Tensor?): FloatArray {
        val out = w.size(0); val inn = w.size(1)
        val wf = w.toFloatArray(); val bf = b?.toFloatArray()
        val y = FloatArray(rows * out)
        for (r in 0 until rows) for (o in 0 until out) {
            var acc = 0f
            for (c in 0 until inn) acc += x[r * inn + c] * wf[o * inn + c]
            y[r * out + o] = acc + (bf?.get(o) ?: 0f)
        }
        return y
    }
}
