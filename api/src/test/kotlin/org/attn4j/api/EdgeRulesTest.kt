package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import java.util.Optional

/** The edge rules api owns for every backend: cache room and geometry, layer steps, the backend template, selection. */
class EdgeRulesTest : StringSpec({
    fun zeros(vararg shape: Int) = DoubleTensor.zeros(*shape)

    "requireRoom: one rule, one message, for appends and layer steps" {
        val cache = ContiguousKvCache(DType.FLOAT64, 2, 1, 4, 2, 2)
        cache.append(1, zeros(1, 3, 2), zeros(1, 3, 2))
        cache.requireRoom("x.shape[1]", 1)
        val e = shouldThrow<AttentionException> { cache.requireRoom("x.shape[1]", 2) }
        e.argument() shouldBe "x.shape[1]"
        e.message shouldBe "x.shape[1]: expected at most 1 new tokens for sequence 1 (cache length 3, maxLength 4), got 2"
        shouldThrow<AttentionException> { cache.append(zeros(2, 1, 2, 2), zeros(2, 1, 2, 2)) }.message shouldBe
            "append: expected at most 1 new tokens for sequence 1 (cache length 3, maxLength 4), got 2"
    }

    "spec() reads a cache's geometry; lengths() and restoreLengths() roll an append back" {
        val cache = ContiguousKvCache(DType.FLOAT32, 2, 3, 5, 4, 0)
        cache.spec() shouldBe KvCacheSpec(DType.FLOAT32, 2, 3, 5, 4, 0)
        cache.spec().keysOnly() shouldBe true
        val before = cache.lengths()
        cache.append(FloatTensor.zeros(2, 3, 2, 4), null)
        cache.lengths().toList() shouldBe listOf(2, 2)
        cache.restoreLengths(before)
        cache.lengths().toList() shouldBe listOf(0, 0)
        shouldThrow<AttentionException> { cache.restoreLengths(intArrayOf(0)) }.argument() shouldBe "lengths"
        shouldThrow<AttentionException> { KvCacheSpec(DType.FLOAT32, 1, 0, 5, 4, 4) }.argument() shouldBe "kvHeads"
    }

    "requireStep checks geometry, alignment and room, naming each" {
        val std = StandardLayerConfig.of(LayerVariant.GQA, 8, 4, 2, 2)
        std.cacheSpec(DType.FLOAT64, 3, 10) shouldBe KvCacheSpec(DType.FLOAT64, 3, 2, 10, 2, 2)
        val x = zeros(1, 2, 8)
        fun arg(block: () -> Unit) = shouldThrow<AttentionException>(block).argument()
        arg { std.requireStep(x, null) } shouldBe "cache"
        arg { std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 2, 2, 4, 2, 2)) } shouldBe "x.shape[0]"
        arg { std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 1, 4, 2, 2)) } shouldBe "cache.kvHeads"
        arg { std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 2, 4, 3, 2)) } shouldBe "cache.headDim"
        arg { std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 2, 4, 2, 3)) } shouldBe "cache.vHeadDim"
        arg { std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 2, 1, 2, 2)) } shouldBe "x.shape[1]"
        val topLeft = StandardLayerConfig(LayerVariant.GQA, 8, 4, 2, 2, false, true, Alignment.TOP_LEFT, null, 0.0,
            java.util.OptionalDouble.empty())
        arg { topLeft.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 2, 4, 2, 2)) } shouldBe "config.alignment"
        std.requireStep(x, ContiguousKvCache(DType.FLOAT64, 1, 2, 2, 2, 2)) // exactly fits

        val mla = MlaLayerConfig.of(8, 2, 0, 4, 2, 2, 2)
        mla.cacheSpec(DType.FLOAT32, 1, 7) shouldBe KvCacheSpec(DType.FLOAT32, 1, 1, 7, 6, 0)
        shouldThrow<AttentionException> { mla.requireStep(x, ContiguousKvCache(DType.FLOAT32, 1, 1, 7, 6, 6)) }.message!! shouldContain
            "cache.vHeadDim: expected 0 (a keys-only latent cache)"
    }

    /** A backend that runs nothing: only the template's checks and dispatch are under test. */
    class Recording(private val name: String, private val reasons: List<String> = listOf(), private val priority: Int = 0,
                    private val unavailable: String? = null) : AbstractAttentionBackend() {
        val made = mutableListOf<String>()
        override fun name() = name
        override fun precision() = Precision.FLOAT32
        override fun priority() = priority
        override fun unavailableReason(): Optional<String> = Optional.ofNullable(unavailable)
        override fun supportOf(problem: AttentionProblem) = Support.of(reasons)
        override fun newPlan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
            made += "plan"
            return object : AttentionPlan {
                override fun problem() = problem
                override fun run(inputs: AttentionInputs) = throw UnsupportedOperationException()
            }
        }
        override fun newStandardLayer(config: StandardLayerConfig, weights: StandardLayerWeights, options: PlanOptions): LayerPlan {
            made += "standard"; throw UnsupportedOperationException("made")
        }
        override fun newMlaLayer(config: MlaLayerConfig, weights: MlaLayerWeights, options: PlanOptions): LayerPlan {
            made += "mla"; throw UnsupportedOperationException("made")
        }
    }

    val problem = AttentionProblem.of(AttentionSpec.builder(2, 1, 4).build(), 1, 3, 3)

    "the template checks arguments, declines with the reasons, validates weights once and dispatches by kind" {
        val b = Recording("fake", listOf("SINKS: not here"))
        shouldThrow<AttentionException> { b.plan(null, PlanOptions.defaults()) }.argument() shouldBe "problem"
        shouldThrow<AttentionException> { b.plan(problem, PlanOptions.defaults()) }.message!! shouldContain
            "backend 'fake' does not support"
        b.made shouldBe mutableListOf()

        val ok = Recording("ok")
        ok.plan(problem, PlanOptions.defaults())
        val c = StandardLayerConfig.of(LayerVariant.MHA, 4, 1, 1, 4)
        val eye = DoubleTensor.zeros(4, 4)
        val bad = StandardLayerWeights(DoubleTensor.zeros(3, 4), null, eye, null, eye, null, eye, null)
        shouldThrow<AttentionException> { ok.planLayer(c, bad, PlanOptions.defaults()) }.argument() shouldBe "wq.shape"
        shouldThrow<AttentionException> { ok.planLayer(c, null, PlanOptions.defaults()) }.argument() shouldBe "weights"
        shouldThrow<UnsupportedOperationException> {
            ok.planLayer(c, StandardLayerWeights(eye, null, eye, null, eye, null, eye, null), PlanOptions.defaults())
        }
        ok.made shouldContainExactly listOf("plan", "standard")
    }

    "select tries backends by priority and, when none fits, gives every backend's reasons" {
        val reference = Recording("reference", priority = 0)
        val cpu = Recording("cpu", priority = 20)
        val gpu = Recording("gpu", priority = 30, unavailable = "no device")
        Backends.byPriority(listOf(reference, gpu, cpu)).map { it.name() } shouldBe listOf("gpu", "cpu", "reference")
        Backends.select(problem, listOf(reference, gpu, cpu)) shouldBe cpu
        val picky = Recording("picky", listOf("SINKS: not here"), priority = 20)
        Backends.select(problem, listOf(reference, picky)) shouldBe reference
        val e = shouldThrow<AttentionException> { Backends.select(problem, listOf(picky, gpu)) }
        e.message!! shouldContain "gpu: unavailable: no device"
        e.message!! shouldContain "picky: SINKS: not here"
        shouldThrow<AttentionException> { Backends.select(problem, listOf()) }.message!! shouldContain "no backend on the class path"
    }
})
