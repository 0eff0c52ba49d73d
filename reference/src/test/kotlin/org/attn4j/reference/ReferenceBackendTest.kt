package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.OptionalInput
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.mla.ReferenceMlaLayer
import java.util.Random

private fun gaussian(rnd: Random, vararg shape: Int) =
    DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { rnd.nextGaussian() }, *shape)

class ReferenceBackendTest : StringSpec({
    val backend = ReferenceBackend()
    val everything = AttentionSpec.builder(4, 2, 3).vHeadDim(2).causal().window(Window(3, 1)).softcap(5.0).scale(0.7).build()

    "found by ServiceLoader as 'reference', float64" {
        Backends.all().count { it is ReferenceBackend } shouldBe 1
        Backends.byName("reference").shouldBeInstanceOf<ReferenceBackend>()
        backend.name() shouldBe "reference"
        backend.precision() shouldBe Precision.FLOAT64
        backend.isAvailable shouldBe true
        backend.newKvCache(1, 2, 8, 3, 3).dtype() shouldBe DType.FLOAT64
    }

    "supports every feature of any valid problem" {
        val top = everything.toBuilder().alignment(Alignment.TOP_LEFT).build()
        for (spec in listOf(everything, top, AttentionSpec.of(1, 1, 1))) {
            for ((lq, lk) in listOf(0 to 0, 3 to 5, 7 to 2)) {
                backend.support(AttentionProblem.of(spec, 2, lq, lk, *OptionalInput.entries.toTypedArray())).isSupported shouldBe true
            }
        }
        shouldThrow<AttentionException> { backend.support(null) }.argument() shouldBe "problem"
    }

    "a plan runs ReferenceAttention.attend, with LSE only when asked" {
        val rnd = Random(1)
        val problem = AttentionProblem.of(everything, 2, 3, 5, OptionalInput.BIAS, OptionalInput.SINKS, OptionalInput.KV_LENS)
        val inputs = AttentionInputs.of(gaussian(rnd, 2, 4, 3, 3), gaussian(rnd, 2, 2, 5, 3), gaussian(rnd, 2, 2, 5, 2))
            .withBias(gaussian(rnd, 3, 5)).withSinks(gaussian(rnd, 4)).withKvLens(5, 2)
        val direct = ReferenceAttention.attend(everything, inputs)
        val withLse = backend.plan(problem, PlanOptions(1, true, null)).run(inputs)
        withLse.out().toDoubleArray().toList() shouldBe direct.out().toDoubleArray().toList()
        withLse.lse().toDoubleArray().toList() shouldBe direct.lse().toDoubleArray().toList()
        val noLse = backend.plan(problem, PlanOptions(1, false, null)).run(inputs)
        noLse.lse() shouldBe null
        noLse.out().toDoubleArray().toList() shouldBe direct.out().toDoubleArray().toList()
        // other sizes than planned are fine; bad tensors are not
        val plan = backend.plan(problem, PlanOptions.defaults())
        plan.problem() shouldBe problem
        plan.run(AttentionInputs.of(gaussian(rnd, 1, 4, 7, 3), gaussian(rnd, 1, 2, 1, 3), gaussian(rnd, 1, 2, 1, 2)))
            .out().shape().toList() shouldBe listOf(1, 4, 7, 2)
        shouldThrow<AttentionException> {
            plan.run(AttentionInputs.of(gaussian(rnd, 1, 4, 7, 3), gaussian(rnd, 1, 4, 1, 3), gaussian(rnd, 1, 4, 1, 2)))
        }.argument() shouldBe "k.shape"
        shouldThrow<AttentionException> { plan.run(null) }.argument() shouldBe "inputs"
        shouldThrow<AttentionException> { backend.plan(problem, null) }.argument() shouldBe "options"
    }

    "decode over a paged cache equals attending each sequence's own keys, bottom-right" {
        val rnd = Random(2)
        val spec = AttentionSpec.builder(4, 2, 3).causal().window(Window(2, -1)).build()
        val cache = PagedKvCache(DType.FLOAT64, 2, 2, 3, 3, 2, 8, 7)
        val k0 = gaussian(rnd, 2, 5, 3)
        val v0 = gaussian(rnd, 2, 5, 3)
        val k1 = gaussian(rnd, 2, 3, 3)
        val v1 = gaussian(rnd, 2, 3, 3)
        cache.append(0, k0, v0)
        cache.append(1, k1, v1)
        val q = gaussian(rnd, 2, 4, 2, 3)
        val out = backend.plan(AttentionProblem.of(spec, 2, 2, 5), PlanOptions.defaults()).decode(q, cache).out()
        for ((s, kv) in listOf(0 to (k0 to v0), 1 to (k1 to v1))) {
            val alone = ReferenceAttention.attend(spec, AttentionInputs.of(q.slice(0, s, 1), kv.first.reshape(1, 2, kv.first.size(1), 3),
                kv.second.reshape(1, 2, kv.second.size(1), 3)))
            out.slice(0, s, 1).toDoubleArray().toList() shouldBe alone.out().toDoubleArray().toList()
        }
        val topLeft = spec.toBuilder().alignment(Alignment.TOP_LEFT).build()
        shouldThrow<AttentionException> {
            backend.plan(AttentionProblem.of(topLeft, 2, 2, 5), PlanOptions.defaults()).decode(q, cache)
        }.argument() shouldBe "spec.alignment"
    }

    "layers: standard and MLA configs plan the matching layer" {
        val rnd = Random(3)
        val std = StandardLayerConfig.of(LayerVariant.GQA, 6, 4, 2, 3)
        backend.supportLayer(std).isSupported shouldBe true
        val w = StandardLayerWeights(gaussian(rnd, 12, 6), null, gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 12), null)
        val plan = backend.planLayer(std, w, PlanOptions.defaults())
        plan.shouldBeInstanceOf<ReferenceStandardLayer>()
        plan.config() shouldBe std
        val x = gaussian(rnd, 1, 3, 6)
        plan.forward(x, null, null).toDoubleArray().toList() shouldBe
            ReferenceStandardLayer(std, w).forward(x, null, null).toDoubleArray().toList()

        // hidden 8, 2 heads, plain query, kv latent 4, nope 2, rope 2, v 2
        val mla = MlaLayerConfig.of(8, 2, 0, 4, 2, 2, 2)
        backend.supportLayer(mla).isSupported shouldBe true
        val mw = MlaLayerWeights(gaussian(rnd, 8, 8), null, null, null, gaussian(rnd, 6, 8), gaussian(rnd, 4), gaussian(rnd, 8, 4), gaussian(rnd, 8, 4))
        val mlaPlan = backend.planLayer(mla, mw, PlanOptions.defaults())
        mlaPlan.shouldBeInstanceOf<ReferenceMlaLayer>()
        mlaPlan.forward(gaussian(rnd, 1, 3, 8), null, null).shape().toList() shouldBe listOf(1, 3, 8)
    }

    "planLayer validates the weights first" {
        val rnd = Random(4)
        val std = StandardLayerConfig.of(LayerVariant.GQA, 6, 4, 2, 3)
        val bad = StandardLayerWeights(gaussian(rnd, 12, 6), null, gaussian(rnd, 6, 5), null, gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 12), null)
        shouldThrow<AttentionException> { backend.planLayer(std, bad, PlanOptions.defaults()) }.argument() shouldBe "wk.shape"
        val withBias = StandardLayerWeights(gaussian(rnd, 12, 6), gaussian(rnd, 12), gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 6), null,
            gaussian(rnd, 6, 12), null)
        shouldThrow<AttentionException> { backend.planLayer(std, withBias, PlanOptions.defaults()) }.argument() shouldBe "bq"
        val mla = MlaLayerConfig.of(8, 2, 0, 4, 2, 2, 2)
        shouldThrow<AttentionException> { backend.planLayer(mla, bad, PlanOptions.defaults()) }.argument() shouldBe "config"
        shouldThrow<AttentionException> { backend.planLayer(std, null, PlanOptions.defaults()) }.argument() shouldBe "weights"
        shouldThrow<AttentionException> { backend.planLayer(null, bad, PlanOptions.defaults()) }.argument() shouldBe "config"
    }
})
