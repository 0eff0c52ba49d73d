package org.attn4j.reference.mla

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions.MlaPath
import org.attn4j.api.Tensor
import java.util.OptionalDouble

/** hidden 12, 3 heads, kv_lora 6, nope 4, rope 4, v 5: every width differs, so a mixed-up axis cannot pass. */
private fun config(qLora: Int, interleaved: Boolean, causal: Boolean, offset: Int, softcap: Double = 0.0,
                   alignment: Alignment = Alignment.BOTTOM_RIGHT, nope: Int = 4, rope: Int = 4) =
    MlaLayerConfig(12, 3, qLora, 6, nope, rope, 5, 50.0, interleaved, 1e-6, offset, causal, alignment, softcap,
        OptionalDouble.empty())

private fun concat(parts: List<Tensor>): DoubleTensor {
    val b = parts[0].size(0)
    val d = parts[0].size(2)
    val len = parts.sumOf { it.size(1) }
    val out = DoubleTensor.zeros(b, len, d)
    var at = 0
    for (p in parts) {
        for (s in 0 until b) for (t in 0 until p.size(1)) for (c in 0 until d) out.set(p.getDouble(s, t, c), s, at + t, c)
        at += p.size(1)
    }
    return out
}

class ReferenceMlaLayerTest : StringSpec({
    val rnd = java.util.Random(20240507)
    val x = uniform(rnd, 1.0, 2, 6, 12)            // [B 2, L 6, hidden 12]

    "naive and absorbed paths agree to 1e-12 (q-LoRA or not, both RoPE pairings, causal or not, offset 0 or 7)" {
        var seed = 1L
        for (qLora in listOf(0, 5)) for (interleaved in listOf(true, false)) for (causal in listOf(true, false))
            for (offset in listOf(0, 7)) {
                val c = config(qLora, interleaved, causal, offset)
                val w = randomWeights(c, seed++)
                val naive = layer(c, w, MlaPath.NAIVE).forward(x, null, null)
                val absorbed = layer(c, w, MlaPath.ABSORBED).forward(x, null, null)
                withClue("qLora=$qLora interleaved=$interleaved causal=$causal offset=$offset") {
                    naive.shape().toList() shouldBe listOf(2, 6, 12)
                    maxAbs(naive) shouldBeGreaterThan 1e-3      // not trivially zero
                    maxAbsDiff(naive, absorbed) shouldBeLessThan 1e-12
                }
            }
    }

    "the paths also agree with softcap, a key padding mask, top-left alignment, and without nope or rope dims" {
        val keep = BoolTensor.of(BooleanArray(12) { it != 2 && it != 9 && it != 11 }, 2, 6)
        val cases = listOf(
            config(5, true, true, 3, softcap = 0.8),
            config(0, false, true, 2, alignment = Alignment.TOP_LEFT),
            config(5, false, false, 0, nope = 0),
            config(0, true, true, 4, rope = 0),
        )
        for ((i, c) in cases.withIndex()) {
            val w = randomWeights(c, 100L + i)
            for (mask in listOf(null, keep)) {
                val naive = layer(c, w, MlaPath.NAIVE).forward(x, null, mask)
                val absorbed = layer(c, w, MlaPath.ABSORBED).forward(x, null, mask)
                withClue("case $i mask=${mask != null}") { maxAbsDiff(naive, absorbed) shouldBeLessThan 1e-12 }
            }
        }
    }

    "causal step over chunks [2, 1, 3] equals one forward call (both paths, q-LoRA or not, offset 5)" {
        for (path in MlaPath.entries) for (qLora in listOf(0, 5)) {
            val c = config(qLora, qLora == 0, true, 5)
            val plan = layer(c, randomWeights(c, 7L), path)
            val whole = plan.forward(x, null, null)
            val cache = plan.newCache(2, 8)
            val outs = mutableListOf<Tensor>()
            var at = 0
            for (n in listOf(2, 1, 3)) {
                outs += plan.step(x.slice(1, at, n), cache)
                at += n
            }
            cache.length(0) shouldBe 6
            cache.length(1) shouldBe 6
            withClue("path=$path qLora=$qLora") { maxAbsDiff(concat(outs), whole) shouldBeLessThan 1e-12 }
        }
    }

    "non-causal steps attend over everything cached so far: the last chunk matches the last rows of forward" {
        // Earlier chunks cannot see later tokens, so only the final chunk (which sees all 6) equals forward's rows.
        for (path in MlaPath.entries) {
            val c = config(5, true, false, 5)
            val plan = layer(c, randomWeights(c, 12L), path)
            val whole = plan.forward(x, null, null)
            val cache = plan.newCache(2, 8)
            val first = plan.step(x.slice(1, 0, 3), cache)
            val last = plan.step(x.slice(1, 3, 3), cache)
            // The first chunk alone is a forward over the first 3 tokens.
            withClue("path=$path") {
                maxAbsDiff(first, plan.forward(x.slice(1, 0, 3), null, null)) shouldBeLessThan 1e-12
                maxAbsDiff(last, whole.slice(1, 3, 3)) shouldBeLessThan 1e-12
                maxAbsDiff(first, whole.slice(1, 0, 3)) shouldBeGreaterThan 1e-6
            }
        }
    }

    "sequences of different cached lengths continue from their own positions" {
        val c = config(5, false, true, 2)
        val w = randomWeights(c, 11L)
        for (path in MlaPath.entries) {
            val plan = layer(c, w, path)
            // Sequence 0 already holds 3 tokens (its own prefix), sequence 1 is empty.
            val prefix = x.slice(0, 0, 1).slice(1, 0, 3)
            val solo = plan.newCache(1, 8)
            plan.step(prefix, solo)
            val pair = plan.newCache(2, 8)
            pair.append(0, solo.keys(0), null)
            val chunk = x.slice(1, 3, 2)                            // [2, 2, 12]
            val y = plan.step(chunk, pair)
            pair.length(0) shouldBe 5
            pair.length(1) shouldBe 2
            // Expected: sequence 0 = the last 2 rows of forward over its 5 tokens; sequence 1 = forward over its 2 tokens.
            val y0 = plan.forward(x.slice(0, 0, 1).slice(1, 0, 5), null, null).slice(1, 3, 2)
            val y1 = plan.forward(x.slice(0, 1, 1).slice(1, 3, 2), null, null)
            withClue("path=$path") {
                maxAbsDiff(y.slice(0, 0, 1), y0) shouldBeLessThan 1e-12
                maxAbsDiff(y.slice(0, 1, 1), y1) shouldBeLessThan 1e-12
            }
        }
    }

    "the latent cache holds kv_lora_rank + rope floats per token, c_kv normalised" {
        val c = config(0, true, true, 0)
        val w = randomWeights(c, 3L)
        val ones = DoubleTensor.of(DoubleArray(6) { 1.0 }, 6)
        val unitGain = MlaLayerWeights(w.wQ(), null, null, null, w.wKvA(), ones, w.wKvB(), w.wO())
        val plan = layer(c, unitGain, MlaPath.ABSORBED)
        val cache = plan.newCache(2, 4)
        cache.dtype() shouldBe DType.FLOAT64
        cache.kvHeads() shouldBe 1
        cache.headDim() shouldBe 10
        cache.vHeadDim() shouldBe 0
        // x scaled by 20 so that each raw latent's mean square ms is large against eps = 1e-6.
        val big = DoubleTensor.of(x.toDoubleArray().map { 20 * it }.toDoubleArray(), 2, 6, 12)
        plan.step(big.slice(1, 0, 3), cache)
        val keys = cache.keys(1)                                    // [1, 3, 10]
        for (t in 0 until 3) {
            // With unit gains, RMSNorm output has mean square ms / (ms + eps), within 1e-5 of 1 here.
            val ms = (0 until 6).sumOf { keys.getDouble(0, t, it) * keys.getDouble(0, t, it) } / 6
            ms shouldBe (1.0 plusOrMinus 1e-5)
        }
    }

    "a key padding mask that hides every key of a sequence gives y = 0 there" {
        val c = config(0, false, false, 0)
        val keep = BoolTensor.of(BooleanArray(12) { it < 6 }, 2, 6)    // sequence 1 keeps nothing
        for (path in MlaPath.entries) {
            val y = layer(c, randomWeights(c, 4L), path).forward(x, null, keep)
            maxAbs(y.slice(0, 1, 1)) shouldBe 0.0
            maxAbs(y.slice(0, 0, 1)) shouldBeGreaterThan 1e-3
        }
    }

    "an empty chunk returns [B, 0, hidden] and leaves the cache as it was" {
        val c = config(5, true, true, 0)
        for (path in MlaPath.entries) {
            val plan = layer(c, randomWeights(c, 5L), path)
            val cache = plan.newCache(2, 4)
            plan.step(x.slice(1, 0, 2), cache)
            val y = plan.step(x.slice(1, 0, 0), cache)
            y.shape().toList() shouldBe listOf(2, 0, 12)
            cache.length(0) shouldBe 2
            plan.forward(x.slice(1, 0, 0), null, null).shape().toList() shouldBe listOf(2, 0, 12)
        }
    }

    "bad weights, kvX, a cache of the wrong width and bad activations are AttentionExceptions naming the argument" {
        val c = config(5, true, true, 0)
        val w = randomWeights(c, 6L)
        val badKvB = MlaLayerWeights(null, w.wQA(), w.qANorm(), w.wQB(), w.wKvA(), w.kvANorm(), DoubleTensor.zeros(3 * 9, 5), w.wO())
        shouldThrow<AttentionException> { layer(c, badKvB, MlaPath.NAIVE) }.argument() shouldBe "w_kv_b.shape"
        val plainQ = MlaLayerWeights(DoubleTensor.zeros(3 * 8, 12), null, null, null, w.wKvA(), w.kvANorm(), w.wKvB(), w.wO())
        shouldThrow<AttentionException> { layer(c, plainQ, MlaPath.NAIVE) }.argument() shouldBe "w_q"
        val badKvA = MlaLayerWeights(null, w.wQA(), w.qANorm(), w.wQB(), DoubleTensor.zeros(6, 12), w.kvANorm(), w.wKvB(), w.wO())
        shouldThrow<AttentionException> { layer(c, badKvA, MlaPath.ABSORBED) }.argument() shouldBe "w_kv_a.shape"

        val plan = layer(c, w, MlaPath.ABSORBED)
        shouldThrow<AttentionException> { plan.forward(x, x, null) }.argument() shouldBe "kvX"
        shouldThrow<AttentionException> { plan.forward(DoubleTensor.zeros(2, 6, 11), null, null) }.argument() shouldBe "x.shape[2]"
        shouldThrow<AttentionException> { plan.forward(x, null, BoolTensor.of(BooleanArray(10), 2, 5)) }
            .argument() shouldBe "keyPaddingMask.shape"

        val wide = ContiguousKvCache(DType.FLOAT64, 2, 1, 8, 11, 0)
        shouldThrow<AttentionException> { plan.step(x, wide) }.argument() shouldBe "cache.headDim"
        val withValues = ContiguousKvCache(DType.FLOAT64, 2, 1, 8, 10, 5)
        shouldThrow<AttentionException> { plan.step(x, withValues) }.argument() shouldBe "cache.vHeadDim"
        shouldThrow<AttentionException> { plan.step(x, plan.newCache(3, 8)) }.argument() shouldBe "x.shape[0]"
    }

    "a failed step leaves the cache unchanged" {
        val c = config(0, false, true, 0)
        val plan = layer(c, randomWeights(c, 8L), MlaPath.NAIVE)
        val cache = plan.newCache(2, 4)
        plan.step(x.slice(1, 0, 3), cache)
        val before = cache.keys(0).toDoubleArray().toList()
        shouldThrow<AttentionException> { plan.step(x.slice(1, 0, 2), cache) }.argument() shouldBe "x.shape[1]"
        val bad = x.slice(1, 0, 1).copy()
        bad.set(Double.NaN, 1, 0, 3)
        shouldThrow<AttentionException> { plan.step(bad, cache) }.message!! shouldContain "x[1, 0, 3]"
        cache.length(0) shouldBe 3
        cache.length(1) shouldBe 3
        cache.keys(0).toDoubleArray().toList() shouldBe before
    }

    "causal KV-cache steps need bottom-right alignment" {
        val c = config(0, false, true, 0, alignment = Alignment.TOP_LEFT)
        val plan = layer(c, randomWeights(c, 9L), MlaPath.ABSORBED)
        val cache = plan.newCache(2, 8)
        shouldThrow<AttentionException> { plan.step(x, cache) }.argument() shouldBe "config.alignment"
        cache.length(0) shouldBe 0
    }
})
