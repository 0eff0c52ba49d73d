package org.attn4j.kernels.cpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.TiledKvCache
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import java.util.Random

/** Bad input is an AttentionException naming the argument, and a failed call writes nothing. */
class ErrorTest : StringSpec({
    val backend = CpuBackend(Kernels.vector, CpuTuning.DEFAULT)
    val spec = AttentionSpec.builder(4, 2, 8).causal().build()
    val rng = Random(51)

    fun failsOn(argument: String, block: () -> Unit) {
        val e = shouldThrow<AttentionException> { block() }
        e.message!! shouldContain argument
    }

    "bad kernel inputs are rejected naming the argument" {
        backend.plan(AttentionProblem.of(spec, 1, 3, 5), options()).use { plan ->
            val q = randn(rng, 1, 4, 3, 8); val k = randn(rng, 1, 2, 5, 8); val v = randn(rng, 1, 2, 5, 8)
            failsOn("q.rank") { plan.run(AttentionInputs.of(randn(rng, 4, 3, 8), k, v)) }
            failsOn("q.shape") { plan.run(AttentionInputs.of(randn(rng, 1, 3, 3, 8), k, v)) }
            failsOn("k.shape") { plan.run(AttentionInputs.of(q, randn(rng, 1, 4, 5, 8), v)) }
            failsOn("v.shape") { plan.run(AttentionInputs.of(q, k, randn(rng, 1, 2, 4, 8))) }
            failsOn("bias.shape") { plan.run(AttentionInputs.of(q, k, v).withBias(randn(rng, 3, 4))) }
            failsOn("mask.shape") { plan.run(AttentionInputs.of(q, k, v).withMask(BoolTensor.of(BooleanArray(6), 6))) }
            failsOn("kvLens[0]") { plan.run(AttentionInputs.of(q, k, v).withKvLens(6)) }
            failsOn("sinks.shape") { plan.run(AttentionInputs.of(q, k, v).withSinks(randn(rng, 3))) }
            failsOn("alibiSlopes.shape") { plan.run(AttentionInputs.of(q, k, v).withAlibiSlopes(randn(rng, 5))) }
            val nan = q.copy().also { it.data()[7] = Float.NaN }
            failsOn("q[") { plan.run(AttentionInputs.of(nan, k, v)) }
            failsOn("kvLens.shape") { plan.run(AttentionInputs.of(q, k, v).withKvLens(IntTensor.of(intArrayOf(1, 2), 2))) }
        }
    }

    "bad decode calls are rejected" {
        val cache = ContiguousKvCache(DType.FLOAT32, 2, 2, 10, 8, 8)
        cache.append(randn(rng, 2, 2, 4, 8), randn(rng, 2, 2, 4, 8))
        backend.plan(AttentionProblem.of(spec, 2, 1, 4), options()).use { plan ->
            failsOn("q.shape") { plan.decode(randn(rng, 3, 4, 1, 8), cache) }
            failsOn("cache.kvHeads") { plan.decode(randn(rng, 2, 4, 1, 8), ContiguousKvCache(DType.FLOAT32, 2, 1, 10, 8, 8)) }
            failsOn("cache.headDim") { plan.decode(randn(rng, 2, 4, 1, 8), ContiguousKvCache(DType.FLOAT32, 2, 2, 10, 9, 8)) }
            failsOn("cache.vHeadDim") { plan.decode(randn(rng, 2, 4, 1, 8), ContiguousKvCache(DType.FLOAT32, 2, 2, 10, 8, 7)) }
        }
        val topLeft = AttentionSpec.builder(4, 2, 8).causal().alignment(Alignment.TOP_LEFT).build()
        backend.plan(AttentionProblem.of(topLeft, 2, 1, 4), options()).use { plan ->
            failsOn("spec.alignment") { plan.decode(randn(rng, 2, 4, 1, 8), cache) }
        }
        val wide = AttentionSpec.builder(4, 2, 8).vHeadDim(9).build()
        backend.plan(AttentionProblem.of(wide, 2, 1, 4), options()).use { plan ->
            failsOn("spec.vHeadDim") { plan.decode(randn(rng, 2, 4, 1, 8), ContiguousKvCache(DType.FLOAT32, 2, 2, 10, 8, 0)) }
        }
    }

    "a closed plan refuses to run; close is idempotent" {
        val plan = backend.plan(AttentionProblem.of(spec, 1, 1, 1), options(threads = 3))
        plan.close()
        plan.close()
        failsOn("closed") { plan.run(qkv(rng, spec, 1, 1, 1)) }
    }

    "outputs too large for one array are declined with a reason, and plan() throws it" {
        val big = AttentionSpec.builder(64, 64, 256).build()
        val problem = AttentionProblem.of(big, 4096, 4096, 1)
        val support = backend.support(problem)
        support.isSupported shouldBe false
        support.reasons()[0] shouldContain "exceeds one Java array"
        shouldThrow<AttentionException> { backend.plan(problem, options()) }
    }

    "a failed layer step leaves the cache unchanged (overflow, bad shape)" {
        val c = StandardLayerConfig.of(LayerVariant.GQA, 16, 4, 2, 4).withCausal(true)
        val w = StandardLayerWeights(randn(rng, 16, 16), null, randn(rng, 8, 16), null, randn(rng, 8, 16), null, randn(rng, 16, 16), null)
        backend.planLayer(c, w, options()).use { layer ->
            val cache = layer.newCache(2, 6)
            layer.step(randn(rng, 2, 4, 16), cache)
            val store = (cache as TiledKvCache).keyTiles()   // the whole store, stale slots included
            val keys = store.toDoubleArray()
            val values = cache.valueStore().toDoubleArray()
            failsOn("x.shape[1]") { layer.step(randn(rng, 2, 3, 16), cache) }      // 4 + 3 > 6
            failsOn("x.shape[2]") { layer.step(randn(rng, 2, 1, 15), cache) }
            failsOn("x.shape[0]") { layer.step(randn(rng, 3, 1, 16), cache) }
            failsOn("cache.kvHeads") { layer.step(randn(rng, 2, 1, 16), ContiguousKvCache(DType.FLOAT32, 2, 1, 6, 4, 4)) }
            cache.length(0) shouldBe 4
            cache.length(1) shouldBe 4
            store.toDoubleArray().toList() shouldBe keys.toList()
            cache.valueStore().toDoubleArray().toList() shouldBe values.toList()
            failsOn("kvX.shape[0]") { layer.forward(randn(rng, 2, 3, 16), randn(rng, 1, 3, 16), null) }
            failsOn("keyPaddingMask.shape") { layer.forward(randn(rng, 2, 3, 16), null, BoolTensor.of(BooleanArray(4), 2, 2)) }
        }
    }

    "a failed MLA step leaves the latent cache unchanged; MLA refuses cross-attention" {
        val c = MlaLayerConfig.of(16, 2, 0, 8, 4, 2, 4)
        val w = MlaLayerWeights(randn(rng, 12, 16), null, null, null, randn(rng, 10, 16), randn(rng, 8), randn(rng, 16, 8), randn(rng, 16, 8))
        backend.planLayer(c, w, options()).use { layer ->
            val cache = layer.newCache(1, 5)
            layer.step(randn(rng, 1, 4, 16), cache)
            val before = (cache as ContiguousKvCache).keyStore().toDoubleArray()
            failsOn("x.shape[1]") { layer.step(randn(rng, 1, 2, 16), cache) }
            failsOn("cache.vHeadDim") { layer.step(randn(rng, 1, 1, 16), ContiguousKvCache(DType.FLOAT32, 1, 1, 5, 10, 10)) }
            cache.length(0) shouldBe 4
            cache.keyStore().toDoubleArray().toList() shouldBe before.toList()
            failsOn("kvX") { layer.forward(randn(rng, 1, 2, 16), randn(rng, 1, 2, 16), null) }
        }
    }

    "malformed layer weights are rejected at plan time" {
        val c = StandardLayerConfig.of(LayerVariant.MHA, 16, 2, 2, 4)
        val bad = StandardLayerWeights(randn(rng, 8, 15), null, randn(rng, 8, 16), null, randn(rng, 8, 16), null, randn(rng, 16, 8), null)
        failsOn("wq.shape") { backend.planLayer(c, bad, options()) }
        val mla = MlaLayerConfig.of(16, 2, 0, 8, 4, 2, 4)
        failsOn("config") { backend.planLayer(mla, bad, options()) }
        val nan = FloatTensor.of(FloatArray(8 * 16) { if (it == 5) Float.POSITIVE_INFINITY else 0f }, 8, 16)
        failsOn("wk[") { backend.planLayer(c, StandardLayerWeights(randn(rng, 8, 16), null, nan, null, randn(rng, 8, 16), null, randn(rng, 16, 8), null), options()) }
    }
})
