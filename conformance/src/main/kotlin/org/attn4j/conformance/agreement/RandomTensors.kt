package org.attn4j.conformance.agreement

import org.attn4j.api.BoolTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerWeights
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import java.util.SplittableRandom
import kotlin.math.sqrt

/**
 * Seeded random float32 tensors for checks. Values are float32 so that a float32 backend and the float64
 * reference read exactly the same numbers (the reference widens them exactly).
 */
class RandomTensors(seed: Long) {
    private val random = SplittableRandom(seed)

    /** Uniform in `[-scale, scale)`. */
    fun uniform(vararg shape: Int, scale: Double = 1.0): FloatTensor {
        val t = FloatTensor.zeros(*shape)
        val data = t.data()
        for (i in data.indices) data[i] = ((random.nextDouble() * 2 - 1) * scale).toFloat()
        return t
    }

    /** A `nn.Linear`-style weight `[out, in]`, uniform in `±1/sqrt(in)`, so activations stay O(1). */
    fun linear(out: Int, inFeatures: Int): FloatTensor = uniform(out, inFeatures, scale = 1.0 / sqrt(inFeatures.toDouble()))

    /** RMSNorm gains near 1. */
    fun gains(n: Int): FloatTensor {
        val t = uniform(n, scale = 0.25)
        val data = t.data()
        for (i in data.indices) data[i] += 1f
        return t
    }

    /** Random weights shaped for [config] (FORMAT.md layouts). */
    fun weights(config: LayerConfig): LayerWeights = when (config) {
        is StandardLayerConfig -> {
            val q = config.qHeads() * config.headDim()
            val kv = config.kvHeads() * config.headDim()
            val d = config.hidden()
            val bias = config.bias()
            StandardLayerWeights(
                linear(q, d), if (bias) uniform(q, scale = 0.1) else null,
                linear(kv, d), if (bias) uniform(kv, scale = 0.1) else null,
                linear(kv, d), if (bias) uniform(kv, scale = 0.1) else null,
                linear(d, q), if (bias) uniform(d, scale = 0.1) else null,
            )
        }
        is MlaLayerConfig -> {
            val d = config.hidden()
            val qOut = config.qHeads() * config.qkHeadDim()
            val plain = config.qLoraRank() == 0
            MlaLayerWeights(
                if (plain) linear(qOut, d) else null,
                if (plain) null else linear(config.qLoraRank(), d),
                if (plain) null else gains(config.qLoraRank()),
                if (plain) null else linear(qOut, config.qLoraRank()),
                linear(config.kvLoraRank() + config.qkRopeHeadDim(), d),
                gains(config.kvLoraRank()),
                linear(config.qHeads() * (config.qkNopeHeadDim() + config.vHeadDim()), config.kvLoraRank()),
                linear(d, config.qHeads() * config.vHeadDim()),
            )
        }
    }

    companion object {
        /** A key padding mask `[B, kvLen]`: sequence `b` keeps its first `lens[b]` keys (true = keep). */
        fun keyPadding(kvLen: Int, lens: IntArray): BoolTensor {
            val data = BooleanArray(lens.size * kvLen)
            for (b in lens.indices) for (j in 0 until kvLen) data[b * kvLen + j] = j < lens[b]
            return BoolTensor.of(data, lens.size, kvLen)
        }
    }
}
