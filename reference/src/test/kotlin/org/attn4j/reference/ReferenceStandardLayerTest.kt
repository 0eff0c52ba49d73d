package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.util.OptionalDouble
import java.util.Random
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.sqrt

private fun tensor(shape: IntArray, vararg values: Double) = DoubleTensor.of(values, *shape)

private fun gaussian(rnd: Random, vararg shape: Int) =
    DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { rnd.nextGaussian() }, *shape)

private fun identity(n: Int) = DoubleTensor.of(DoubleArray(n * n) { if (it / n == it % n) 1.0 else 0.0 }, n, n)

private fun config(variant: LayerVariant, hidden: Int, qHeads: Int, kvHeads: Int, headDim: Int, bias: Boolean = false,
                   causal: Boolean = false, alignment: Alignment = Alignment.BOTTOM_RIGHT, window: Window = Window.NONE) =
    StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, bias, causal, alignment, window, 0.0, OptionalDouble.empty())

/** Random weights for [c] (biases when c.bias()). */
private fun randomWeights(rnd: Random, c: StandardLayerConfig): StandardLayerWeights {
    val q = c.qHeads() * c.headDim()
    val kv = c.kvHeads() * c.headDim()
    fun b(n: Int) = if (c.bias()) gaussian(rnd, n) else null
    return StandardLayerWeights(gaussian(rnd, q, c.hidden()), b(q), gaussian(rnd, kv, c.hidden()), b(kv),
        gaussian(rnd, kv, c.hidden()), b(kv), gaussian(rnd, c.hidden(), q), b(c.hidden()))
}

/** Through the backend, which validates the weights (the layer itself trusts them). */
private fun layer(c: StandardLayerConfig, w: StandardLayerWeights) =
    ReferenceBackend().planLayer(c, w, PlanOptions.defaults()) as ReferenceStandardLayer

private fun shouldBeClose(actual: Tensor, expected: Tensor, tol: Double = 1e-12) {
    actual.shape().toList() shouldBe expected.shape().toList()
    val a = actual.toDoubleArray()
    val e = expected.toDoubleArray()
    for (n in a.indices) withClue("element $n: ${a[n]} vs ${e[n]}") { (abs(a[n] - e[n]) <= tol) shouldBe true }
}

class ReferenceStandardLayerTest : StringSpec({

    "hand-worked: identity projections, one head, two tokens" {
        // hidden 2, 1 head of width 2, Wq = Wk = Wv = Wo = I, biases 0 except bo = [1, -1].
        // x = [[1, 0], [0, 1]] => q = k = v = x; scale 1/sqrt 2; scores row 0: [1, 0]/sqrt 2, row 1: [0, 1]/sqrt 2.
        // row 0: out = (a [1, 0] + 1 [0, 1]) / (a + 1) with a = e^{1/sqrt 2}; row 1 is the mirror image.
        val c = config(LayerVariant.MHA, 2, 1, 1, 2, bias = true)
        val zero = DoubleTensor.zeros(2)
        val w = StandardLayerWeights(identity(2), zero, identity(2), zero, identity(2), zero, identity(2), tensor(intArrayOf(2), 1.0, -1.0))
        val y = layer(c, w).forward(tensor(intArrayOf(1, 2, 2), 1.0, 0.0, 0.0, 1.0), null, null)
        val a = exp(1 / sqrt(2.0))
        y.shape().toList() shouldBe listOf(1, 2, 2)
        y.getDouble(0, 0, 0) shouldBe (a / (a + 1) + 1 plusOrMinus 1e-14)
        y.getDouble(0, 0, 1) shouldBe (1 / (a + 1) - 1 plusOrMinus 1e-14)
        y.getDouble(0, 1, 0) shouldBe (1 / (a + 1) + 1 plusOrMinus 1e-14)
        y.getDouble(0, 1, 1) shouldBe (a / (a + 1) - 1 plusOrMinus 1e-14)
        // causal: token 0 sees only itself, out = v_0 = [1, 0]
        val yc = layer(c.withCausal(true), w).forward(tensor(intArrayOf(1, 2, 2), 1.0, 0.0, 0.0, 1.0), null, null)
        yc.getDouble(0, 0, 0) shouldBe 2.0
        yc.getDouble(0, 0, 1) shouldBe -1.0
    }

    "hand-worked: GQA head mapping, splitting and merging through one memory token" {
        // hidden 2, 4 query heads over 2 KV heads, head_dim 1. One memory token kv_x = [3, -1]:
        // softmax over a single key is 1, so each query head's out is its KV head's value.
        // Wv = I => v heads [3, -1]; heads 0,1 read KV head 0, heads 2,3 read KV head 1 => merged [3, 3, -1, -1].
        // Wo = [[1, 2, 3, 4], [0, 0, 0, 1]], bo = [0.5, 0]: y = [3 + 6 - 3 - 4 + 0.5, -1] = [2.5, -1] for every query.
        val c = config(LayerVariant.GQA, 2, 4, 2, 1, bias = true)
        val rnd = Random(1)
        val w = StandardLayerWeights(gaussian(rnd, 4, 2), gaussian(rnd, 4), gaussian(rnd, 2, 2), gaussian(rnd, 2),
            identity(2), DoubleTensor.zeros(2), tensor(intArrayOf(2, 4), 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 1.0),
            tensor(intArrayOf(2), 0.5, 0.0))
        val y = layer(c, w).forward(gaussian(rnd, 1, 3, 2), tensor(intArrayOf(1, 1, 2), 3.0, -1.0), null)
        y.shape().toList() shouldBe listOf(1, 3, 2)
        for (i in 0 until 3) {
            y.getDouble(0, i, 0) shouldBe (2.5 plusOrMinus 1e-13)
            y.getDouble(0, i, 1) shouldBe (-1.0 plusOrMinus 1e-13)
        }
        // masking the only memory token empties every row: attention gives 0, y = bo
        val empty = layer(c, w).forward(gaussian(rnd, 1, 3, 2), tensor(intArrayOf(1, 1, 2), 3.0, -1.0), BoolTensor.of(booleanArrayOf(false), 1, 1))
        empty.toDoubleArray().toList() shouldBe listOf(0.5, 0.0, 0.5, 0.0, 0.5, 0.0)
    }

    "a key padding mask equals dropping the padded memory tokens" {
        val rnd = Random(2)
        val c = config(LayerVariant.GQA, 6, 4, 2, 3, bias = true)
        val l = layer(c, randomWeights(rnd, c))
        val x = gaussian(rnd, 2, 3, 6)
        val memory = gaussian(rnd, 2, 5, 6)
        // sequence 0 keeps tokens 0..2, sequence 1 keeps 0..4
        val keep = BoolTensor.of(BooleanArray(10) { it < 3 || it >= 5 }, 2, 5)
        val y = l.forward(x, memory, keep)
        val y0 = l.forward(x.slice(0, 0, 1), memory.slice(0, 0, 1).slice(1, 0, 3), null)
        val y1 = l.forward(x.slice(0, 1, 1), memory.slice(0, 1, 1), null)
        shouldBeClose(y.slice(0, 0, 1), y0)
        shouldBeClose(y.slice(0, 1, 1), y1)
        // a strided (transposed) mask view is read through its strides
        val keepT = BoolTensor.of(BooleanArray(10) { val (j, b) = it / 2 to it % 2; if (b == 0) j < 3 else true }, 5, 2).permute(1, 0)
        shouldBeClose(l.forward(x, memory, keepT), y)
    }

    "step over chunks [3, 1, 2] equals one causal forward" {
        for ((variant, kvHeads) in listOf(LayerVariant.MHA to 4, LayerVariant.GQA to 2, LayerVariant.MQA to 1)) {
            for (window in listOf(Window.NONE, Window(2, 0))) {
                val rnd = Random(3L + kvHeads)
                val c = config(variant, 8, 4, kvHeads, 3, bias = true, causal = true, window = window)
                val l = layer(c, randomWeights(rnd, c))
                val x = gaussian(rnd, 2, 6, 8)
                val whole = l.forward(x, null, null)
                val cache = l.newCache(2, 6)
                val parts = mutableListOf<Tensor>()
                var at = 0
                for (n in listOf(3, 1, 2)) {
                    parts += l.step(x.slice(1, at, n), cache)
                    at += n
                }
                cache.length(0) shouldBe 6
                for (p in parts.indices) {
                    val start = listOf(0, 3, 4)[p]
                    shouldBeClose(parts[p], whole.slice(1, start, parts[p].size(1)))
                }
            }
        }
    }

    "step works on a paged cache whose sequences have different lengths" {
        val rnd = Random(4)
        val c = config(LayerVariant.GQA, 4, 2, 1, 2, causal = true)
        val l = layer(c, randomWeights(rnd, c))
        val prefix = gaussian(rnd, 1, 3, 4)                        // only sequence 1 has these 3 earlier tokens
        val chunk = gaussian(rnd, 2, 2, 4)
        // sequence 1's cached K/V for the prefix, taken from a one-sequence cache of the same layer
        val single = l.newCache(1, 3)
        l.step(prefix, single)
        val paged = PagedKvCache(DType.FLOAT64, 2, 1, 2, 2, 2, 10, 8)
        paged.append(1, single.keys(0), single.values(0))
        val y = l.step(chunk, paged)
        paged.length(0) shouldBe 2
        paged.length(1) shouldBe 5
        // sequence 0: the chunk alone, causal; sequence 1: the chunk's rows of a causal forward over prefix + chunk
        shouldBeClose(y.slice(0, 0, 1), l.forward(chunk.slice(0, 0, 1), null, null))
        val joined = DoubleTensor.zeros(1, 5, 4)
        for (t in 0 until 5) for (h in 0 until 4) {
            joined.set(if (t < 3) prefix.get(0, t, h) else chunk.get(1, t - 3, h), 0, t, h)
        }
        shouldBeClose(y.slice(0, 1, 1), l.forward(joined, null, null).slice(1, 3, 2))
        // a float32 cache is accepted too (K/V are rounded to float on the way in)
        val x = gaussian(rnd, 2, 5, 4)
        val f32 = ContiguousKvCache(DType.FLOAT32, 2, 1, 5, 2, 2)
        shouldBeClose(l.step(x, f32), l.forward(x, null, null), 1e-5)
    }

    "newCache is float64 with the layer's KV dimensions" {
        val c = config(LayerVariant.GQA, 8, 4, 2, 3)
        val cache = layer(c, randomWeights(Random(5), c)).newCache(3, 17)
        cache.dtype() shouldBe DType.FLOAT64
        cache.sequences() shouldBe 3
        cache.kvHeads() shouldBe 2
        cache.headDim() shouldBe 3
        cache.vHeadDim() shouldBe 3
        cache.maxLength() shouldBe 17
    }

    "float32 activations and weights are widened exactly" {
        val rnd = Random(6)
        val c = config(LayerVariant.GQA, 4, 2, 1, 2, bias = true)
        val w = randomWeights(rnd, c)
        fun f(t: Tensor?) = t?.let { FloatTensor.copyOf(it) }
        fun d(t: Tensor?) = t?.let { DoubleTensor.copyOf(FloatTensor.copyOf(it)) }
        val wf = StandardLayerWeights(f(w.wq()), f(w.bq()), f(w.wk()), f(w.bk()), f(w.wv()), f(w.bv()), f(w.wo()), f(w.bo()))
        val wd = StandardLayerWeights(d(w.wq()), d(w.bq()), d(w.wk()), d(w.bk()), d(w.wv()), d(w.bv()), d(w.wo()), d(w.bo()))
        val x = FloatTensor.copyOf(gaussian(rnd, 1, 3, 4))
        layer(c, wf).forward(x, null, null).toDoubleArray().toList() shouldBe
            layer(c, wd).forward(DoubleTensor.copyOf(x), null, null).toDoubleArray().toList()
    }

    "the plan keeps its own copy of the weights" {
        val rnd = Random(7)
        val c = config(LayerVariant.MHA, 4, 2, 2, 2)
        val w = randomWeights(rnd, c)
        val l = layer(c, w)
        val x = gaussian(rnd, 1, 2, 4)
        val before = l.forward(x, null, null).toDoubleArray().toList()
        (w.wq() as DoubleTensor).data().fill(0.0)
        l.forward(x, null, null).toDoubleArray().toList() shouldBe before
    }

    "zero-length inputs give empty or bias-only outputs" {
        val rnd = Random(8)
        val c = config(LayerVariant.GQA, 4, 2, 1, 2, bias = true)
        val w = randomWeights(rnd, c)
        val l = layer(c, w)
        l.forward(DoubleTensor.zeros(2, 0, 4), null, null).shape().toList() shouldBe listOf(2, 0, 4)
        // no memory: every row sees nothing, attention is 0, y = bo
        val y = l.forward(gaussian(rnd, 1, 2, 4), DoubleTensor.zeros(1, 0, 4), null)
        y.toDoubleArray().toList() shouldBe w.bo().toDoubleArray().toList() + w.bo().toDoubleArray().toList()
    }

    "forward rejects bad activations and masks by name" {
        val c = config(LayerVariant.GQA, 4, 2, 1, 2)
        val l = layer(c, randomWeights(Random(9), c))
        fun arg(block: () -> Unit) = shouldThrow<AttentionException> { block() }.argument()
        arg { l.forward(null, null, null) } shouldBe "x"
        arg { l.forward(DoubleTensor.zeros(3, 4), null, null) } shouldBe "x.rank"
        arg { l.forward(DoubleTensor.zeros(1, 3, 5), null, null) } shouldBe "x.shape[2]"
        arg { l.forward(DoubleTensor.zeros(0, 3, 4), null, null) } shouldBe "x.shape[0]"
        arg { l.forward(DoubleTensor.zeros(2, 3, 4), DoubleTensor.zeros(1, 3, 4), null) } shouldBe "kvX.shape[0]"
        arg { l.forward(DoubleTensor.zeros(2, 3, 4), DoubleTensor.zeros(2, 3, 3), null) } shouldBe "kvX.shape[2]"
        arg { l.forward(DoubleTensor.zeros(2, 3, 4), null, BoolTensor.of(BooleanArray(4), 2, 2)) } shouldBe "keyPaddingMask.shape"
        arg { l.forward(DoubleTensor.zeros(2, 3, 4), DoubleTensor.zeros(2, 5, 4), BoolTensor.of(BooleanArray(6), 2, 3)) } shouldBe
            "keyPaddingMask.shape"
        val nan = DoubleTensor.zeros(1, 2, 4).also { it.set(Double.NaN, 0, 1, 3) }
        shouldThrow<AttentionException> { l.forward(nan, null, null) }.message shouldBe "x[0, 1, 3]: expected a finite value, got NaN"
        arg { ReferenceBackend().planLayer(c, StandardLayerWeights(DoubleTensor.zeros(4, 3), null, DoubleTensor.zeros(2, 4), null,
            DoubleTensor.zeros(2, 4), null, DoubleTensor.zeros(4, 4), null), PlanOptions.defaults()) } shouldBe "wq.shape"
    }

    "step validates everything before appending" {
        val rnd = Random(10)
        val c = config(LayerVariant.GQA, 4, 2, 1, 2, causal = true)
        val l = layer(c, randomWeights(rnd, c))
        val cache = l.newCache(2, 4)
        l.step(gaussian(rnd, 2, 3, 4), cache)
        val keysBefore = (0 until 2).map { cache.keys(it).toDoubleArray().toList() }
        fun arg(block: () -> Unit) = shouldThrow<AttentionException> { block() }.argument()
        arg { l.step(gaussian(rnd, 2, 2, 4), cache) } shouldBe "x.shape[1]"             // 3 + 2 > 4
        arg { l.step(gaussian(rnd, 1, 1, 4), cache) } shouldBe "x.shape[0]"
        arg { l.step(gaussian(rnd, 2, 1, 5), cache) } shouldBe "x.shape[2]"
        arg { l.step(gaussian(rnd, 2, 4), cache) } shouldBe "x.rank"
        arg { l.step(DoubleTensor.zeros(2, 1, 4).also { it.set(Double.POSITIVE_INFINITY, 1, 0, 0) }, cache) } shouldBe "x[1, 0, 0]"
        arg { l.step(gaussian(rnd, 2, 1, 4), null) } shouldBe "cache"
        arg { l.step(gaussian(rnd, 2, 1, 4), ContiguousKvCache(DType.FLOAT64, 2, 2, 4, 2, 2)) } shouldBe "cache.kvHeads"
        arg { l.step(gaussian(rnd, 2, 1, 4), ContiguousKvCache(DType.FLOAT64, 2, 1, 4, 3, 2)) } shouldBe "cache.headDim"
        arg { l.step(gaussian(rnd, 2, 1, 4), ContiguousKvCache(DType.FLOAT64, 2, 1, 4, 2, 0)) } shouldBe "cache.vHeadDim"
        // out of pages: the paged cache's own check, still before any write
        val paged = PagedKvCache(DType.FLOAT64, 2, 1, 2, 2, 2, 2, 8)
        l.step(gaussian(rnd, 2, 2, 4), paged)
        arg { l.step(gaussian(rnd, 2, 1, 4), paged) } shouldBe "append"
        paged.length(0) shouldBe 2
        // top-left causal cannot be stepped: the chunk's queries are the last tokens
        val tl = layer(config(LayerVariant.GQA, 4, 2, 1, 2, causal = true, alignment = Alignment.TOP_LEFT), randomWeights(rnd, c))
        arg { tl.step(gaussian(rnd, 2, 1, 4), tl.newCache(2, 4)) } shouldBe "config.alignment"
        for (s in 0 until 2) {
            cache.length(s) shouldBe 3
            cache.keys(s).toDoubleArray().toList() shouldBe keysBefore[s]
        }
    }
})
