package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceBackend
import java.util.OptionalDouble
import kotlin.math.abs
import kotlin.math.sqrt
import kotlin.random.Random

/**
 * MLA layers on the device, both paths (absorbed, and naive: decompressed per-head K/V), against the reference
 * backend's float64 MLA. Float64 weights must meet 1e-9; float32 weights FORMAT.md's default float32 tolerance
 * (atol 1e-5, rtol 1e-4).
 */
class OpenClMlaTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val reference = ReferenceBackend()

    fun config(hidden: Int, heads: Int, qLora: Int, kvLora: Int, nope: Int, rope: Int, v: Int, interleaved: Boolean,
               offset: Int, causal: Boolean, softcap: Double = 0.0) =
        MlaLayerConfig(hidden, heads, qLora, kvLora, nope, rope, v, 10000.0, interleaved, 1e-6, offset, causal,
            Alignment.BOTTOM_RIGHT, softcap, OptionalDouble.empty())

    fun weights(c: MlaLayerConfig, r: Random, f64: Boolean): MlaLayerWeights {
        fun t(vararg shape: Int, scale: Double): Tensor =
            if (f64) TestData.doubles(r, *shape, scale = scale) else TestData.floats(r, *shape, scale = scale)
        fun norm(n: Int): Tensor = if (f64) org.attn4j.api.DoubleTensor.of(DoubleArray(n) { 1 + 0.2 * (r.nextDouble() - 0.5) }, n)
            else org.attn4j.api.FloatTensor.of(FloatArray(n) { (1 + 0.2 * (r.nextDouble() - 0.5)).toFloat() }, n)
        val h = c.qHeads(); val qOut = h * c.qkHeadDim(); val hid = c.hidden()
        val s = 1 / sqrt(hid.toDouble())
        return if (c.qLoraRank() == 0) {
            MlaLayerWeights(t(qOut, hid, scale = s), null, null, null, t(c.latentWidth(), hid, scale = s), norm(c.kvLoraRank()),
                t(h * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank(), scale = 1 / sqrt(c.kvLoraRank().toDouble())),
                t(hid, h * c.vHeadDim(), scale = 1 / sqrt((h * c.vHeadDim()).toDouble())))
        } else {
            MlaLayerWeights(null, t(c.qLoraRank(), hid, scale = s), norm(c.qLoraRank()), t(qOut, c.qLoraRank(), scale = 1 / sqrt(c.qLoraRank().toDouble())),
                t(c.latentWidth(), hid, scale = s), norm(c.kvLoraRank()),
                t(h * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank(), scale = 1 / sqrt(c.kvLoraRank().toDouble())),
                t(hid, h * c.vHeadDim(), scale = 1 / sqrt((h * c.vHeadDim()).toDouble())))
        }
    }

    /** FORMAT.md's float32 default: |actual - expected| <= 1e-5 + 1e-4 |expected|. */
    fun checkTolerance(what: String, got: Tensor, ref: Tensor) {
        got.shape().toList() shouldBe ref.shape().toList()
        val g = got.toDoubleArray(); val e = ref.toDoubleArray()
        for (i in e.indices) {
            if (!(abs(g[i] - e[i]) <= 1e-5 + 1e-4 * abs(e[i]))) throw AssertionError("$what: element $i is ${g[i]}, reference ${e[i]}")
        }
    }

    fun check(what: String, got: Tensor, ref: Tensor, f64: Boolean) =
        if (f64) TestData.checkFloat64(what, got, ref) else checkTolerance(what, got, ref)

    val configs = listOf(
        config(32, 4, 0, 16, 8, 4, 8, interleaved = false, offset = 0, causal = true),
        config(40, 3, 12, 10, 6, 6, 5, interleaved = true, offset = 7, causal = true, softcap = 4.0),
        config(24, 2, 0, 9, 0, 2, 3, interleaved = false, offset = 3, causal = false),   // no nope part
        config(24, 2, 8, 7, 5, 0, 6, interleaved = true, offset = 0, causal = true),     // no rope part
    )

    "forward against the reference MLA, float64 (1e-9) and float32 weights" {
        val gpu = Gpu.require()
        val r = Random(61)
        for (c in configs) for (f64 in listOf(true, false)) for (path in PlanOptions.MlaPath.entries) {
            val w = weights(c, r, f64)
            gpu.planLayer(c, w, PlanOptions.defaults().withMlaPath(path)).use { layer ->
                reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
                    val x = if (f64) TestData.doubles(r, 2, 9, c.hidden()) else TestData.floats(r, 2, 9, c.hidden())
                    val y = layer.forward(x, null, null)
                    y.dtype() shouldBe (if (f64) DType.FLOAT64 else DType.FLOAT32)
                    check("$c f64=$f64 $path", y, ref.forward(x, null, null), f64)
                    val kpm = BoolTensor.of(BooleanArray(18) { it % 4 != 1 }, 2, 9)
                    check("$c f64=$f64 $path padded", layer.forward(x, null, kpm), ref.forward(x, null, kpm), f64)
                }
            }
        }
    }

    "chunked steps over contiguous and paged latent caches equal one call" {
        val gpu = Gpu.require()
        val r = Random(62)
        for (c in configs.filter { it.causal() }) for (f64 in listOf(true, false)) {
            val w = weights(c, r, f64)
            reference.planLayer(c, w, PlanOptions.defaults()).use { ref ->
                val x = if (f64) TestData.doubles(r, 2, 11, c.hidden()) else TestData.floats(r, 2, 11, c.hidden())
                val whole = ref.forward(x, null, null)
                for (splits in listOf(0, 2)) for (path in PlanOptions.MlaPath.entries) {
                    gpu.planLayer(c, w, PlanOptions.defaults().withMlaPath(path), splits).use { layer ->
                        val dtype = if (f64) DType.FLOAT64 else DType.FLOAT32
                        for (cache in listOf(layer.newCache(2, 11), PagedKvCache(dtype, 2, 1, c.latentWidth(), 0, 4, 8, 11))) {
                            var at = 0
                            for (n in listOf(6, 1, 1, 3)) {
                                val y = layer.step(x.slice(1, at, n), cache)
                                check("$c f64=$f64 $path ${cache.javaClass.simpleName} splits $splits chunk at $at", y, whole.slice(1, at, n), f64)
                                at += n
                            }
                        }
                    }
                }
            }
        }
    }

    "a cache of the wrong geometry or cross-attention memory is refused" {
        val gpu = Gpu.require()
        val c = configs[0]
        gpu.planLayer(c, weights(c, Random(63), false), PlanOptions.defaults()).use { layer ->
            val x = TestData.floats(Random(1), 1, 2, c.hidden())
            shouldThrow<AttentionException> { layer.step(x, org.attn4j.api.ContiguousKvCache(DType.FLOAT32, 1, 1, 8, c.latentWidth(), 4)) }
                .message shouldContain "cache.vHeadDim"
            shouldThrow<AttentionException> { layer.forward(x, x, null) }.message shouldContain "kvX"
        }
    }
})
