package org.attn4j.reference.mla

import org.attn4j.api.DoubleTensor
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.sqrt

/** A tensor of uniform values in [-a, a] from [rnd], `a = scale`. */
internal fun uniform(rnd: java.util.Random, scale: Double, vararg shape: Int): DoubleTensor {
    val n = shape.fold(1) { p, s -> p * s }
    return DoubleTensor.of(DoubleArray(n) { (2 * rnd.nextDouble() - 1) * scale }, *shape)
}

/** Random weights of the right shapes, each matrix scaled by 1/sqrt(fan_in) so activations stay O(1). */
internal fun randomWeights(c: MlaLayerConfig, seed: Long): MlaLayerWeights {
    val rnd = java.util.Random(seed)
    fun w(out: Int, inp: Int) = uniform(rnd, 1.0 / sqrt(inp.toDouble()), out, inp)
    fun gain(n: Int) = DoubleTensor.of(DoubleArray(n) { 0.5 + rnd.nextDouble() }, n)
    val qOut = c.qHeads() * c.qkHeadDim()
    val hasLora = c.qLoraRank() > 0
    return MlaLayerWeights(
        if (hasLora) null else w(qOut, c.hidden()),
        if (hasLora) w(c.qLoraRank(), c.hidden()) else null,
        if (hasLora) gain(c.qLoraRank()) else null,
        if (hasLora) w(qOut, c.qLoraRank()) else null,
        w(c.kvLoraRank() + c.qkRopeHeadDim(), c.hidden()),
        gain(c.kvLoraRank()),
        w(c.qHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank()),
        w(c.hidden(), c.qHeads() * c.vHeadDim()),
    )
}

internal fun layer(c: MlaLayerConfig, w: MlaLayerWeights, path: PlanOptions.MlaPath) =
    ReferenceMlaLayer(c, w, PlanOptions(1, true, path))

internal fun maxAbsDiff(a: Tensor, b: Tensor): Double {
    require(a.shape().contentEquals(b.shape())) { "shapes differ: ${a.shape().toList()} vs ${b.shape().toList()}" }
    val x = a.toDoubleArray()
    val y = b.toDoubleArray()
    var m = 0.0
    for (i in x.indices) m = max(m, abs(x[i] - y[i]))
    return m
}

internal fun maxAbs(a: Tensor): Double = a.toDoubleArray().maxOf { abs(it) }
