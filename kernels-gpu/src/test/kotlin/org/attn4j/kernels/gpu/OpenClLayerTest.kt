package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceBackend
import java.util.OptionalDouble
import kotlin.random.Random

/** MHA / MQA / GQA layers on the device against the reference backend's float64 layers. */
class OpenClLayerTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val reference = ReferenceBackend()

    fun config(variant: LayerVariant, hidden: Int, hq: Int, hkv: Int, d: Int, bias: Boolean, causal: Boolean,
               window: Window = Window.NONE, softcap: Double = 0.0) =
        StandardLayerConfig(variant, hidden, hq, hkv, d, bias, causal, Alignment.BOTTOM_RIGHT, window, softcap, OptionalDouble.empty())

    fun weights(c: StandardLayerConfig, r: Random, f64: Boolean = false): StandardLayerWeights {
        val s = 1.0 / kotlin.math.sqrt(c.hidden().toDouble())
        fun t(vararg shape: Int, scale: Double = s): Tensor =
            if (f64) TestData.doubles(r, *shape, scale = scale) else TestData.floats(r, *shape, scale = scale)
        val q = c.qHeads() * c.headDim(); val kv = c.kvHeads() * c.headDim()
        return StandardLayerWeights(
            t(q, c.hidden()), if (c.bias()) t(q, scale = 0.5) else null,
            t(kv, c.hidden()), if (c.bias()) t(kv, scale = 0.5) else null,
            t(kv, c.hidden()), if (c.bias()) t(kv, scale = 0.5) else null,
            t(c.hidden(), q, scale = 1.0 / kotlin.math.sqrt(q.toDouble())), if (c.bias()) t(c.hidden(), scale = 0.5) else null,
        )
    }

    /** The layer in plain float32 (the float32 oracle), only to calibrate the float32 accuracy rule. */
    fun naiveLayer(c: StandardLayerConfig, w: StandardLayerWeights, x: Tensor, kvX: Tensor?, kpm: BoolTensor?): FloatArray =
        Naive32.standardLayer(c, w, x, kvX, kpm).toFloatArray()

    "self-attention layers: MHA, MQA, GQA, with and without biases, causal or not" {
        val gpu = Gpu.require()
        val r = Random(41)
        val cases = listOf(
            config(LayerVariant.MHA, 24, 4, 4, 6, bias = true, causal = true),
            config(LayerVariant.MQA, 33, 4, 1, 8, bias = false, causal = false),
            config(LayerVariant.GQA, 40, 6, 2, 5, bias = true, causal = false, softcap = 3.0),
            config(LayerVariant.GQA, 32, 8, 2, 16, bias = false, causal = true, window = Window(4, 0)),
        )
        for (c in cases) {
            val w = weights(c, r)
            gpu.planLayer(c, w, PlanOptions.defaults()).use { layer ->
                reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
                    for (len in listOf(1, 13, 40)) {
                        val x = TestData.floats(r, 2, len, c.hidden())
                        TestData.checkFloat32("$c L=$len", layer.forward(x, null, null), ref.forward(x, null, null),
                            naiveLayer(c, w, x, null, null))
                    }
                }
            }
        }
    }

    "cross-attention with a key padding mask (one sequence fully padded)" {
        val gpu = Gpu.require()
        val r = Random(42)
        val c = config(LayerVariant.GQA, 20, 6, 3, 7, bias = true, causal = false)
        val w = weights(c, r)
        val x = TestData.floats(r, 3, 5, 20)
        val memory = TestData.floats(r, 3, 11, 20)
        val keep = BooleanArray(3 * 11) { i -> i / 11 != 1 && (i % 11) % 3 != 0 } // sequence 1: nothing kept
        val kpm = BoolTensor.of(keep, 3, 11)
        gpu.planLayer(c, w, PlanOptions.defaults()).use { layer ->
            reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
                val y = layer.forward(x, memory, kpm)
                TestData.checkFloat32("cross", y, ref.forward(x, memory, kpm), naiveLayer(c, w, x, memory, kpm))
                // the fully padded sequence attends to nothing: its output is the output bias alone
                val bo = w.bo().toDoubleArray()
                for (i in 0 until 5) for (o in 0 until 20) {
                    y.getDouble(1, i, o) shouldBe (bo[o] plusOrMinus 1e-6)
                }
            }
        }
    }

    "chunked decoding through the KV cache equals one causal call (contiguous and paged caches, split KV)" {
        val gpu = Gpu.require()
        val r = Random(43)
        val c = config(LayerVariant.GQA, 32, 8, 2, 8, bias = true, causal = true)
        val w = weights(c, r)
        val chunks = listOf(7, 1, 1, 3, 1)
        val total = chunks.sum()
        val x = TestData.floats(r, 2, total, 32)
        reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
            val whole = ref.forward(x, null, null)
            val naive = naiveLayer(c, w, x, null, null)
            for (splits in listOf(0, 3)) {
                gpu.planLayer(c, w, splits).use { layer ->
                    val caches = listOf(layer.newCache(2, 16), PagedKvCache(DType.FLOAT32, 2, 2, 8, 8, 3, 12, 16))
                    for (cache in caches) {
                        val ys = FloatArray(2 * total * 32)
                        var at = 0
                        for (n in chunks) {
                            val y = layer.step(x.slice(1, at, n), cache)
                            for (b in 0 until 2) for (t in 0 until n) for (o in 0 until 32) {
                                ys[(b * total + at + t) * 32 + o] = y.getDouble(b, t, o).toFloat()
                            }
                            at += n
                        }
                        cache.length(0) shouldBe total
                        TestData.checkFloat32("chunks $chunks on ${cache.javaClass.simpleName}, splits $splits",
                            FloatTensor.of(ys, 2, total, 32), whole, naive)
                    }
                }
            }
        }
    }

    "a step that does not fit fails before touching the cache" {
        val gpu = Gpu.require()
        val r = Random(44)
        val c = config(LayerVariant.MHA, 16, 2, 2, 8, bias = false, causal = true)
        gpu.planLayer(c, weights(c, r), PlanOptions.defaults()).use { layer ->
            val cache = layer.newCache(1, 6)
            layer.step(TestData.floats(r, 1, 4, 16), cache)
            val before = cache.keys(0).toDoubleArray()
            shouldThrow<AttentionException> { layer.step(TestData.floats(r, 1, 3, 16), cache) }.message shouldContain "x.shape[1]"
            shouldThrow<AttentionException> { layer.step(TestData.floats(r, 2, 1, 16), cache) }.message shouldContain "x.shape[0]"
            cache.length(0) shouldBe 4
            cache.keys(0).toDoubleArray().toList() shouldBe before.toList()
            // a paged pool without free pages: append refuses before writing
            val paged = PagedKvCache(DType.FLOAT32, 1, 2, 8, 8, 2, 2, 6)
            layer.step(TestData.floats(r, 1, 4, 16), paged)
            shouldThrow<AttentionException> { layer.step(TestData.floats(r, 1, 1, 16), paged) }.message shouldContain "free pages"
            paged.length(0) shouldBe 4
        }
    }

    "float64 weights run the layer in double to 1e-9" {
        val gpu = Gpu.require()
        val r = Random(45)
        val c = config(LayerVariant.GQA, 24, 6, 2, 9, bias = true, causal = true)
        val w = weights(c, r, f64 = true)
        gpu.planLayer(c, w, PlanOptions.defaults()).use { layer ->
            reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
                val x = TestData.doubles(r, 2, 17, 24)
                TestData.checkFloat64("f64 layer", layer.forward(x, null, null), ref.forward(x, null, null))
                val cache = layer.newCache(2, 17)
                cache.dtype() shouldBe DType.FLOAT64
                layer.step(x.slice(1, 0, 16), cache)
                val last = layer.step(x.slice(1, 16, 1), cache)
                val whole = ref.forward(x, null, null)
                TestData.checkFloat64("f64 step", last, whole.slice(1, 16, 1))
            }
        }
    }
})

