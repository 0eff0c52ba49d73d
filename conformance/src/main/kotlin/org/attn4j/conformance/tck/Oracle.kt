package org.attn4j.conformance.tck

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Precision
import org.attn4j.api.Tensor
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs

/**
 * The expected result of a kernel case: the float64 reference, and (for float32 backends) the naive float32
 * evaluation that sizes the tolerance.
 */
internal class Expected(val ref: AttentionOutput, val naive: AttentionOutput?, private val maxAbsV: Double, private val conditioning: Double) {
    /** The rounding scale of `out`: its own magnitude or V's, whichever is larger. */
    val outScale: Double get() = maxOf(Accuracy.maxAbs(ref.out()), maxAbsV)

    /** The rounding scale of `lse`: `max(1, |lse|)`. */
    val lseScale: Double get() = maxOf(1.0, Accuracy.maxAbs(ref.lse()))

    /** Judges a backend's output with [Accuracy]'s rule (out, then lse when the backend returned one). */
    fun judge(actual: AttentionOutput, precision: Precision): CaseOutcome {
        val o = Accuracy.compare("out", actual.out(), ref.out(), naive?.out(), precision, outScale, conditioning * maxAbsV)
        if (!o.passed) return CaseOutcome.Bad(o.detail!!)
        val lse = actual.lse() ?: return CaseOutcome.Ok(o.ratio, listOf(Runs.NO_LSE))
        val l = Accuracy.compare("lse", lse, ref.lse(), naive?.lse(), precision, lseScale, conditioning)
        if (!l.passed) return CaseOutcome.Bad(l.detail!!)
        return CaseOutcome.Ok(maxOf(o.ratio, l.ratio))
    }

    /** [Accuracy.allowance] of this case's `out` or `lse` ([name]). */
    fun allowance(name: String, precision: Precision): Double =
        if (name == "lse") Accuracy.allowance(ref.lse(), naive?.lse(), precision, lseScale, conditioning)
        else Accuracy.allowance(ref.out(), naive?.out(), precision, outScale, conditioning * maxAbsV)

    companion object {
        fun of(spec: AttentionSpec, inputs: AttentionInputs, precision: Precision): Expected {
            val float32 = precision == Precision.FLOAT32
            return Expected(ReferenceAttention.attend(spec, inputs), if (float32) Naive32.attend(spec, inputs) else null,
                Accuracy.maxAbs(inputs.v()), if (float32) Accuracy.scoreConditioning(spec, inputs) else 0.0)
        }
    }
}

/** Metamorphic comparisons: two results of one backend that must agree within an allowance. */
internal object Agree {
    /**
     * Compares [a] with [b] element-wise: equal infinities match, NaN never does, and finite values may differ by
     * at most [allowed]. Returns null when they agree, else the evidence.
     */
    fun check(name: String, a: Tensor, b: Tensor, allowed: Double): Pair<Double, String?> {
        if (!a.shape().contentEquals(b.shape())) return Double.POSITIVE_INFINITY to "$name.shape: ${a.shape().contentToString()} vs ${b.shape().contentToString()}"
        val x = a.toDoubleArray()
        val y = b.toDoubleArray()
        var worst = 0.0
        var at = -1
        for (i in x.indices) {
            if (x[i].isNaN() || y[i].isNaN()) return Double.POSITIVE_INFINITY to "$name${Accuracy.index(a, i)}: NaN (${x[i]} vs ${y[i]})"
            if (x[i].isInfinite() || y[i].isInfinite()) {
                if (x[i] != y[i]) return Double.POSITIVE_INFINITY to "$name${Accuracy.index(a, i)}: ${x[i]} vs ${y[i]}"
                continue
            }
            val e = abs(x[i] - y[i])
            if (e > worst) {
                worst = e
                at = i
            }
        }
        val ratio = worst / allowed
        return if (worst <= allowed) ratio to null
        else ratio to "$name${Accuracy.index(a, at)}: %s vs %s differ by %.3g > allowed %.3g".format(x[at], y[at], worst, allowed)
    }
}
