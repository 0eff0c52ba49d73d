package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.Alignment
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.ReferenceBackend
import java.util.OptionalDouble
import java.util.Random
import kotlin.math.sqrt

/**
 * Layers through the CPU kernels against the float64 reference layers (ReferenceBackend.planLayer), within
 * FORMAT.md's default float32 tolerance (atol 1e-5, rtol 1e-4).
 */
class LayerTest : StringSpec({
    val reference = ReferenceBackend()

    fun standardWeights(rng: Random, c: StandardLayerConfig): StandardLayerWeights {
        val q = c.qHeads() * c.headDim(); val kv = c.kvHeads() * c.headDim(); val h = c.hidden()
        val s = 1.0 / sqrt(h.toDouble())
        fun b(n: Int) = if (c.bias()) randn(rng, n, scale = 0.1) else null
        return StandardLayerWeights(randn(rng, q, h, scale = s), b(q), randn(rng, kv, h, scale = s), b(kv),
            randn(rng, kv, h, scale = s), b(kv), randn(rng, h, q, scale = 1.0 / sqrt(q.toDouble())), b(h))
    }

    fun mlaWeights(rng: Random, c: MlaLayerConfig): MlaLayerWeights {
        val h = c.hidden(); val qOut = c.qHeads() * c.qkHeadDim(); val r = c.kvLoraRank()
        val s = 1.0 / sqrt(h.toDouble())
        val lora = c.qLoraRank() > 0
        return MlaLayerWeights(
            if (lora) null else randn(rng, qOut, h, scale = s),
            if (lora) randn(rng, c.qLoraRank(), h, scale = s) else null,
            if (lora) FloatTensor.of(FloatArray(c.qLoraRank()) { 1f + 0.1f * it / c.qLoraRank() }, c.qLoraRank()) else null,
            if (lora) randn(rng, qOut, c.qLoraRank(), scale = 1.0 / sqrt(c.qLoraRank().toDouble())) else null,
            randn(rng, r + c.qkRopeHeadDim(), h, scale = s),
            FloatTensor.of(FloatArray(r) { 0.8f + 0.4f * it / r }, r),
            randn(rng, c.qHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), r, scale = 1.0 / sqrt(r.toDouble())),
            randn(rng, h, c.qHeads() * c.vHeadDim(), scale = 1.0 / sqrt((c.qHeads() * c.vHeadDim()).toDouble())))
    }

    /** Concatenates per-chunk outputs [B, n_i, hidden] along axis 1. */
    fun concat(parts: List<Tensor>): FloatTensor {
        val b = parts[0].size(0); val hidden = parts[0].size(2); val total = parts.sumOf { it.size(1) }
        val out = FloatTensor.zeros(b, total, hidden)
        var at = 0
        for (p in parts) { org.attn4j.api.Tensors.copyInto(p, out.slice(1, at, p.size(1))); at += p.size(1) }
        return out
    }

    val standardConfigs = listOf(
        StandardLayerConfig.of(LayerVariant.MHA, 24, 4, 4, 8).withCausal(true),
        StandardLayerConfig.of(LayerVariant.MQA, 24, 4, 1, 6).withBias(true),
        StandardLayerConfig(LayerVariant.GQA, 40, 6, 2, 13, true, true, Alignment.BOTTOM_RIGHT, Window(5, -1), 3.0, OptionalDouble.of(0.4)),
    )

    for (backend in Kernels.backends()) {
        val kn = backend.kernels().name()

        "standard layers: self-attention forward [$kn]" {
            val rng = Random(31)
            for (c in standardConfigs) {
                val w = standardWeights(rng, c)
                val x = randn(rng, 2, 11, c.hidden())
                backend.planLayer(c, w, options()).use { cpu ->
                    reference.planLayer(c, w, options()).use { ref ->
                        val y = cpu.forward(x, null, null)
                        y.dtype() shouldBe DType.FLOAT32
                        assertClose("$c", y, ref.forward(x, null, null))
                    }
                }
            }
        }

        "standard layers: cross-attention with a key padding mask [$kn]" {
            val rng = Random(32)
            val c = StandardLayerConfig.of(LayerVariant.GQA, 32, 8, 2, 8).withBias(true)
            val w = standardWeights(rng, c)
            val x = randn(rng, 2, 9, 32)
            val mem = randn(rng, 2, 17, 32)
            val pad = BoolTensor.of(BooleanArray(2 * 17) { it % 17 < (if (it < 17) 17 else 10) }, 2, 17)
            val none = BoolTensor.of(BooleanArray(2 * 17) { it >= 17 }, 2, 17) // sequence 0 sees no key: y = bo
            backend.planLayer(c, w, options()).use { cpu ->
                reference.planLayer(c, w, options()).use { ref ->
                    assertClose("cross", cpu.forward(x, mem, null), ref.forward(x, mem, null))
                    assertClose("cross+keypad", cpu.forward(x, mem, pad), ref.forward(x, mem, pad))
                    assertClose("all keys padded in sequence 0", cpu.forward(x, mem, none), ref.forward(x, mem, none))
                    assertClose("self+keypad", cpu.forward(mem, null, pad), ref.forward(mem, null, pad))
                }
            }
        }

        "standard layers: chunked KV-cache steps equal one causal call, contiguous and paged caches [$kn]" {
            val rng = Random(33)
            for (c in standardConfigs.filter { it.causal() }) {
                val w = standardWeights(rng, c)
                val x = randn(rng, 2, 10, c.hidden())
                backend.planLayer(c, w, options()).use { cpu ->
                    reference.planLayer(c, w, options()).use { ref ->
                        val whole = ref.forward(x, null, null)
                        val paged = PagedKvCache(DType.FLOAT32, 2, c.kvHeads(), c.headDim(), c.headDim(), 3, 10, 16)
                        for (cache in listOf(cpu.newCache(2, 16), paged, ref.newCache(2, 16))) {
                            var at = 0
                            val parts = listOf(7, 1, 1, 1).map { n -> cpu.step(x.slice(1, at, n), cache).also { at += n } }
                            assertClose("steps on ${cache.javaClass.simpleName} ${cache.dtype()} $c", concat(parts), whole)
                            cache.length(1) shouldBe 10
                        }
                    }
                }
            }
        }

        val mlaConfigs = listOf(
            MlaLayerConfig.of(32, 4, 0, 16, 8, 4, 8),
            MlaLayerConfig(40, 3, 12, 20, 6, 6, 10, 500.0, true, 1e-5, 5, true, Alignment.BOTTOM_RIGHT, 0.0, OptionalDouble.empty()),
            MlaLayerConfig(24, 2, 0, 17, 0, 8, 5, 10000.0, false, 1e-6, 3, true, Alignment.BOTTOM_RIGHT, 2.5, OptionalDouble.of(0.3)),
            MlaLayerConfig.of(24, 5, 0, 9, 7, 0, 3).withCausal(false),
        )

        "MLA forward on both cpu paths against the reference (absorbed and naive paths) [$kn]" {
            val rng = Random(34)
            for (c in mlaConfigs) {
                val w = mlaWeights(rng, c)
                val x = randn(rng, 2, 9, c.hidden())
                val pad = BoolTensor.of(BooleanArray(18) { it != 3 && it != 13 }, 2, 9)
                for (cpuPath in PlanOptions.MlaPath.entries) backend.planLayer(c, w, options().withMlaPath(cpuPath)).use { cpu ->
                    for (path in PlanOptions.MlaPath.entries) {
                        reference.planLayer(c, w, options().withMlaPath(path)).use { ref ->
                            assertClose("$c cpu $cpuPath vs reference $path", cpu.forward(x, null, null), ref.forward(x, null, null))
                            assertClose("$c keypad cpu $cpuPath vs reference $path", cpu.forward(x, null, pad), ref.forward(x, null, pad))
                        }
                    }
                }
            }
        }

        "MLA naive and absorbed paths differ in the work they do, not in the result [$kn]" {
            // the two cpu paths agree with each other to float32 rounding, on forward and on a step over a cache
            val rng = Random(36)
            val c = mlaConfigs[1]
            val w = mlaWeights(rng, c)
            val x = randn(rng, 2, 7, c.hidden())
            backend.planLayer(c, w, options()).use { absorbed ->
                backend.planLayer(c, w, options().withMlaPath(PlanOptions.MlaPath.NAIVE)).use { naive ->
                    assertClose("forward naive vs absorbed", naive.forward(x, null, null), absorbed.forward(x, null, null))
                    val ca = absorbed.newCache(2, 10)
                    val cn = naive.newCache(2, 10)
                    absorbed.step(x.slice(1, 0, 4), ca)
                    naive.step(x.slice(1, 0, 4), cn)
                    assertClose("step naive vs absorbed", naive.step(x.slice(1, 4, 3), cn), absorbed.step(x.slice(1, 4, 3), ca))
                    // both caches hold the same latents (the naive path decompresses them per step, never stores K/V)
                    assertClose("latent caches", cn.keys(1), ca.keys(1))
                }
            }
        }

        "MLA steps over the latent cache equal one causal call (positions continue across chunks) [$kn]" {
            val rng = Random(35)
            for (c in mlaConfigs.filter { it.causal() }) for (cpuPath in PlanOptions.MlaPath.entries) {
                val w = mlaWeights(rng, c)
                val x = randn(rng, 2, 8, c.hidden())
                backend.planLayer(c, w, options().withMlaPath(cpuPath)).use { cpu ->
                    reference.planLayer(c, w, options()).use { ref ->
                        val whole = ref.forward(x, null, null)
                        val paged = PagedKvCache(DType.FLOAT32, 2, 1, c.latentWidth(), 0, 3, 8, 12)
                        for (cache in listOf(cpu.newCache(2, 12), paged, ref.newCache(2, 12))) {
                            var at = 0
                            val parts = listOf(5, 1, 2).map { n -> cpu.step(x.slice(1, at, n), cache).also { at += n } }
                            assertClose("MLA $cpuPath steps on ${cache.javaClass.simpleName} ${cache.dtype()} $c", concat(parts), whole)
                        }
                        // the cache holds latents only: kv_lora_rank + rope floats per token, one "head"
                        val cache = cpu.newCache(1, 4)
                        cache.kvHeads() shouldBe 1
                        cache.headDim() shouldBe c.kvLoraRank() + c.qkRopeHeadDim()
                        cache.vHeadDim() shouldBe 0
                    }
                }
            }
        }
    }
})
