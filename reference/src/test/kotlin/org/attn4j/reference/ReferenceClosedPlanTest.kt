package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DoubleTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import java.util.Random

private fun gaussian(rnd: Random, vararg shape: Int) =
    DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { rnd.nextGaussian() }, *shape)

/** Closed plans refuse to run on the reference as they do on cpu and opencl, so tests on the reference catch reuse. */
class ReferenceClosedPlanTest : StringSpec({
    val backend = ReferenceBackend()

    "a kernel plan runs until closed, then run and decode fail naming the closed plan" {
        val rnd = Random(11)
        val spec = AttentionSpec.builder(2, 1, 3).causal().build()
        val plan = backend.plan(AttentionProblem.of(spec, 1, 2, 4), PlanOptions.defaults())
        val inputs = AttentionInputs.of(gaussian(rnd, 1, 2, 2, 3), gaussian(rnd, 1, 1, 4, 3), gaussian(rnd, 1, 1, 4, 3))
        plan.run(inputs).out().shape().toList() shouldBe listOf(1, 2, 2, 3)
        plan.close()
        plan.close() // idempotent
        shouldThrow<AttentionException> { plan.run(inputs) }.message shouldContain "reference: the plan is closed"
        val cache = backend.newKvCache(1, 1, 4, 3, 3)
        cache.append(gaussian(rnd, 1, 1, 4, 3), gaussian(rnd, 1, 1, 4, 3))
        shouldThrow<AttentionException> { plan.decode(gaussian(rnd, 1, 2, 2, 3), cache) }.message shouldContain "closed"
    }

    "a standard layer plan refuses forward and step after close, leaving the cache as it was" {
        val rnd = Random(12)
        val std = StandardLayerConfig.of(LayerVariant.GQA, 6, 4, 2, 3)
        val w = StandardLayerWeights(gaussian(rnd, 12, 6), null, gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 6), null, gaussian(rnd, 6, 12), null)
        val plan = backend.planLayer(std, w, PlanOptions.defaults())
        val x = gaussian(rnd, 1, 3, 6)
        plan.forward(x, null, null).shape().toList() shouldBe listOf(1, 3, 6)
        val cache = plan.newCache(1, 8)
        plan.step(x, cache)
        cache.length(0) shouldBe 3
        plan.close()
        shouldThrow<AttentionException> { plan.forward(x, null, null) }.message shouldContain "reference: the layer plan is closed"
        shouldThrow<AttentionException> { plan.step(x, cache) }.message shouldContain "reference: the layer plan is closed"
        cache.length(0) shouldBe 3
    }

    "an MLA layer plan refuses forward and step after close" {
        val rnd = Random(13)
        val mla = MlaLayerConfig.of(8, 2, 0, 4, 2, 2, 2)
        val mw = MlaLayerWeights(gaussian(rnd, 8, 8), null, null, null, gaussian(rnd, 6, 8), gaussian(rnd, 4), gaussian(rnd, 8, 4), gaussian(rnd, 8, 4))
        val plan = backend.planLayer(mla, mw, PlanOptions.defaults())
        val x = gaussian(rnd, 1, 3, 8)
        plan.forward(x, null, null).shape().toList() shouldBe listOf(1, 3, 8)
        val cache = plan.newCache(1, 8)
        plan.close()
        shouldThrow<AttentionException> { plan.forward(x, null, null) }.message shouldContain "reference: the layer plan is closed"
        shouldThrow<AttentionException> { plan.step(x, cache) }.message shouldContain "reference: the layer plan is closed"
        cache.length(0) shouldBe 0
    }
})
