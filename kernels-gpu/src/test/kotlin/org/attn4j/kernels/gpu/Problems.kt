package org.attn4j.kernels.gpu

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.IntTensor
import org.attn4j.api.PlanOptions
import org.attn4j.api.Window
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import kotlin.random.Random

/** A random attention problem: the spec, sizes and which optional inputs to pass. */
data class Problem(
    val spec: AttentionSpec, val batch: Int, val qLen: Int, val kvLen: Int,
    val biasShape: IntArray? = null, val maskShape: IntArray? = null,
    val alibi: Boolean = false, val sinks: Boolean = false, val kvLens: Boolean = false,
    val magnitude: Double = 1.0, val seed: Long = 0,
) {
    override fun toString() = "Problem(seed=$seed, B=$batch, Lq=$qLen, Lk=$kvLen, $spec, bias=${biasShape?.toList()}, " +
        "mask=${maskShape?.toList()}, alibi=$alibi, sinks=$sinks, kvLens=$kvLens, magnitude=$magnitude)"

    /** Inputs in float32 (or float64 when [f64]), drawn from [seed]. */
    fun inputs(f64: Boolean = false): AttentionInputs {
        val r = Random(seed)
        fun t(vararg shape: Int, scale: Double = 1.0) =
            if (f64) TestData.doubles(r, *shape, scale = scale) else TestData.floats(r, *shape, scale = scale)
        val hq = spec.qHeads(); val hkv = spec.kvHeads()
        var inp = AttentionInputs.of(
            t(batch, hq, qLen, spec.headDim(), scale = magnitude),
            t(batch, hkv, kvLen, spec.headDim(), scale = magnitude),
            t(batch, hkv, kvLen, spec.vHeadDim()),
        )
        if (biasShape != null) inp = inp.withBias(t(*biasShape, scale = 2.0))
        if (maskShape != null) inp = inp.withMask(TestData.bools(r, *maskShape))
        if (alibi) inp = inp.withAlibiSlopes(t(hq, scale = 0.5).let { s -> abs(s) })
        if (sinks) inp = inp.withSinks(t(hq, scale = 3.0))
        if (kvLens) inp = inp.withKvLens(IntTensor.of(IntArray(batch) { if (it == 0 && batch > 1) 0 else r.nextInt(kvLen + 1) }, batch))
        return inp
    }

    private fun abs(t: org.attn4j.api.Tensor): org.attn4j.api.Tensor {
        val d = t.toDoubleArray().map { kotlin.math.abs(it) }
        return if (t.dtype() == org.attn4j.api.DType.FLOAT64) org.attn4j.api.DoubleTensor.of(d.toDoubleArray(), *t.shape())
        else org.attn4j.api.FloatTensor.of(FloatArray(d.size) { d[it].toFloat() }, *t.shape())
    }

    companion object {
        /** Shapes broadcastable to [B, Hq, Lq, Lk] (NumPy rules, trailing alignment). */
        fun broadcastShapes(b: Int, hq: Int, lq: Int, lk: Int): List<IntArray> = listOf(
            intArrayOf(lk), intArrayOf(lq, lk), intArrayOf(1, lk), intArrayOf(hq, 1, lk), intArrayOf(b, 1, 1, lk),
            intArrayOf(1, hq, lq, 1), intArrayOf(b, hq, lq, lk), intArrayOf(b, 1, lq, lk), intArrayOf(1),
        )

        /** A problem with random features over the given sizes. */
        fun random(seed: Long, hq: Int, hkv: Int, d: Int, b: Int, lq: Int, lk: Int, allFeatures: Boolean = true): Problem {
            val r = Random(seed)
            val builder = AttentionSpec.builder(hq, hkv, d)
            if (r.nextInt(4) == 0) builder.vHeadDim(1 + r.nextInt(20))
            if (r.nextBoolean()) builder.causal()
            if (r.nextBoolean()) builder.alignment(Alignment.TOP_LEFT)
            if (allFeatures) {
                if (r.nextInt(3) == 0) {
                    val left = listOf(-1, 0, 1, 3, 10).random(r)
                    val right = listOf(-1, 0, 2, 5).random(r)
                    if (left >= 0 || right >= 0) builder.window(Window(left, right))
                }
                if (r.nextInt(3) == 0) builder.softcap(listOf(5.0, 30.0).random(r))
                if (r.nextInt(3) == 0) builder.scale(listOf(0.3, 1.7, -0.5).random(r))
            }
            val shapes = broadcastShapes(b, hq, lq, lk)
            return Problem(
                builder.build(), b, lq, lk,
                biasShape = if (allFeatures && r.nextInt(3) == 0) shapes.random(r) else null,
                maskShape = if (allFeatures && r.nextInt(3) == 0) shapes.random(r) else null,
                alibi = allFeatures && r.nextInt(4) == 0,
                sinks = allFeatures && r.nextInt(4) == 0,
                kvLens = allFeatures && r.nextInt(3) == 0,
                seed = seed,
            )
        }
    }
}

/** Plans by spec (and forced splits), reused across the cases of a spec and closed after it. */
class PlanCache(private val backend: OpenClBackend, private val options: PlanOptions = PlanOptions.defaults()) : AutoCloseable {
    private val plans = HashMap<Pair<AttentionSpec, Int>, AttentionPlan>()

    fun plan(spec: AttentionSpec, splits: Int = 0): AttentionPlan = plans.getOrPut(spec to splits) {
        backend.plan(AttentionProblem.of(spec, 1, 1, 1), options, splits)
    }

    override fun close() {
        plans.values.forEach { it.close() }
        plans.clear()
    }
}

/** Runs [p] on the device and checks out and lse against the float64 reference (float32 rule, or 1e-9 for [f64]). */
fun PlanCache.check(p: Problem, splits: Int = 0, f64: Boolean = false): AttentionOutput {
    val inputs = p.inputs(f64)
    val got = try {
        plan(p.spec, splits).run(inputs)
    } catch (e: Throwable) {
        throw AssertionError("$p (splits $splits): ${e.message}", e)
    }
    val ref = ReferenceAttention.attend(p.spec, inputs)
    try {
        if (f64) {
            TestData.checkFloat64("out", got.out(), ref.out())
            TestData.checkFloat64("lse", got.lse(), ref.lse())
        } else {
            val naive = Naive32.attend(p.spec, inputs)
            TestData.checkFloat32("out", got.out(), ref.out(), naive.out().toFloatArray())
            TestData.checkFloat32("lse", got.lse(), ref.lse(), naive.lse().toFloatArray())
        }
    } catch (e: Throwable) {
        throw AssertionError("$p (splits $splits, f64 $f64): ${e.message}", e)
    }
    return got
}
