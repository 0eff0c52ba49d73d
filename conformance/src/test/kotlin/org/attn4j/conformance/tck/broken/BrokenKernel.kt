package org.attn4j.conformance.tck.broken

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.FloatTensor
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max
import kotlin.math.tanh

/**
 * The classic attention-kernel bugs, one per constant. [NONE] is the control: the same code without a bug, which
 * must pass the whole TCK (otherwise "the TCK catches the bug" would prove nothing).
 */
enum class Bug(val description: String) {
    NONE("no bug (control)"),
    CAUSAL_DIAGONAL_OFF_BY_ONE("causal mask hides the diagonal itself (j < d_i instead of j <= d_i)"),
    TOP_LEFT_FOR_BOTTOM_RIGHT("top-left diagonal d_i = i used where bottom-right d_i = i + Lk - Lq is required"),
    HEAD_MAPPING_MODULO("query head h reads KV head h % kv_heads instead of h / (q_heads / kv_heads)"),
    NO_MAX_SUBTRACTION("softmax without subtracting the row max: exp overflows to inf at large scores"),
    SOFTCAP_AFTER_BIAS("softcap applied after adding the bias (FORMAT: softcap, then bias)"),
    WINDOW_OFF_BY_ONE("window's left edge off by one (j > d_i - left instead of j >= d_i - left)"),
    VECTOR_TAIL_DROPPED("dot product ignores the last head_dim % 8 elements (vector tail dropped)"),
    NAN_FOR_MASKED_ROW("a row that sees no key gives NaN (0/0) instead of 0"),
    SINKS_IGNORED("attention sinks ignored in the softmax denominator"),
    LSE_OFF_BY_MAX("LSE returned without adding back the row max"),
    ALIBI_SIGN_FLIPPED("ALiBi bias added instead of subtracted"),
    SCALE_TWICE("scale applied twice"),
    KV_CACHE_OFFSET_OFF_BY_ONE("layer KV-cache step places the new queries one position early (each misses its own key)"),
    ROPE_INTERLEAVED_FOR_HALVES("MLA RoPE rotates interleaved pairs (2i, 2i+1) where halves (i, i + d/2) are configured"),
}

/**
 * A float32 attention kernel written like [org.attn4j.reference.Naive32] (plain loops in FORMAT.md's order),
 * with exactly one [bug] switched in. Kernel bugs live here; the two layer bugs live in [BrokenBackend].
 */
class BrokenKernel(private val bug: Bug) {
    /**
     * @param inputs `q [B, Hq, Lq, D]`, `k [B, Hkv, Lk, D]`, `v [B, Hkv, Lk, Dv]` and the optional inputs
     * @return `out [B, Hq, Lq, Dv]`, `lse [B, Hq, Lq]` (float32)
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
        val sinks = if (bug == Bug.SINKS_IGNORED) null else inputs.sinks()?.toFloatArray()
        val kvLens = inputs.kvLens()?.toIntArray()
        val scale = spec.effectiveScale().toFloat().let { if (bug == Bug.SCALE_TWICE) it * it else it }
        val softcap = spec.softcap().toFloat()
        val dotLen = if (bug == Bug.VECTOR_TAIL_DROPPED) d - d % 8 else d

        val out = FloatArray(Tensor.elementCount(b, hq, lq, dv))
        val lse = FloatArray(Tensor.elementCount(b, hq, lq))
        val s = FloatArray(lk)
        val visible = BooleanArray(lk)
        for (bi in 0 until b) {
            val lkB = kvLens?.get(bi) ?: lk
            for (h in 0 until hq) {
                val kvh = if (bug == Bug.HEAD_MAPPING_MODULO) h % hkv else h / (hq / hkv)
                for (i in 0 until lq) {
                    val row = (bi * hq + h) * lq + i
                    val diag = if (bug == Bug.TOP_LEFT_FOR_BOTTOM_RIGHT) i else spec.alignment().diagonal(i, lq, lkB)
                    var any = false
                    for (j in 0 until lk) {
                        val causalOk = !spec.causal() || (if (bug == Bug.CAUSAL_DIAGONAL_OFF_BY_ONE) j < diag else j <= diag)
                        val w = spec.window()
                        val windowOk = if (bug == Bug.WINDOW_OFF_BY_ONE) {
                            (w.left() < 0 || j > diag - w.left()) && (w.right() < 0 || j <= diag + w.right())
                        } else {
                            w.contains(diag, j)
                        }
                        visible[j] = j < lkB && causalOk && windowOk && (mask == null || mask.atStorage(at(mask, bi, h, i, j)))
                        if (!visible[j]) continue
                        any = true
                        var dot = 0f
                        val qa = row * d
                        val ka = ((bi * hkv + kvh) * lk + j) * d
                        for (c in 0 until dotLen) dot += q[qa + c] * k[ka + c]
                        var x = scale * dot
                        if (bug != Bug.SOFTCAP_AFTER_BIAS && softcap > 0f) x = softcap * tanh((x / softcap).toDouble()).toFloat()
                        if (bias != null) x += bias.doubleAtStorage(at(bias, bi, h, i, j)).toFloat()
                        if (slopes != null) {
                            val alibi = slopes[h] * abs(diag - j).toFloat()
                            x = if (bug == Bug.ALIBI_SIGN_FLIPPED) x + alibi else x - alibi
                        }
                        if (bug == Bug.SOFTCAP_AFTER_BIAS && softcap > 0f) x = softcap * tanh((x / softcap).toDouble()).toFloat()
                        s[j] = x
                    }
                    val sink = sinks?.get(h) ?: Float.NEGATIVE_INFINITY
                    if (!any && bug != Bug.NAN_FOR_MASKED_ROW) {
                        lse[row] = sink
                        continue
                    }
                    // The correct kernel subtracts the max; the buggy one exponentiates raw scores.
                    var m = sink
                    for (j in 0 until lk) if (visible[j]) m = max(m, s[j])
                    if (bug == Bug.NO_MAX_SUBTRACTION) m = 0f
                    var sum = if (sinks == null) 0f else exp((sink - m).toDouble()).toFloat()
                    for (j in 0 until lk) {
                        if (!visible[j]) continue
                        s[j] = exp((s[j] - m).toDouble()).toFloat()
                        sum += s[j]
                    }
                    val oa = row * dv
                    if (!any) {
                        // NAN_FOR_MASKED_ROW: the kernel divides its (zero) accumulator by the (zero, without a sink)
                        // denominator unconditionally: 0 / 0 = NaN.
                        for (c in 0 until dv) out[oa + c] = 0f / sum
                        lse[row] = m + ln(sum.toDouble()).toFloat()
                        continue
                    }
                    for (j in 0 until lk) {
                        if (!visible[j]) continue
                        val p = s[j] / sum
                        val va = ((bi * hkv + kvh) * lk + j) * dv
                        for (c in 0 until dv) out[oa + c] += p * v[va + c]
                    }
                    lse[row] = (if (bug == Bug.LSE_OFF_BY_MAX) 0f else m) + ln(sum.toDouble()).toFloat()
                }
            }
        }
        return AttentionOutput(FloatTensor.of(out, b, hq, lq, dv), FloatTensor.of(lse, b, hq, lq))
    }

    private fun at(t: Tensor, b: Int, h: Int, i: Int, j: Int): Int =
        t.offset() + b * t.stride(0) + h * t.stride(1) + i * t.stride(2) + j * t.stride(3)
}
