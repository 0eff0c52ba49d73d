package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import java.util.OptionalDouble
import kotlin.math.sqrt

class AttentionSpecTest : StringSpec({

    "defaults: scale 1/sqrt(headDim), bottom-right, no window, vHeadDim = headDim" {
        val s = AttentionSpec.of(8, 2, 64)
        s.effectiveScale() shouldBe 1.0 / sqrt(64.0)
        s.alignment() shouldBe Alignment.BOTTOM_RIGHT
        s.window() shouldBe Window.NONE
        s.vHeadDim() shouldBe 64
        s.causal() shouldBe false
        s.hasWindow() shouldBe false
        s.hasSoftcap() shouldBe false
        AttentionSpec.builder(8, 2, 64).scale(0.5).build().effectiveScale() shouldBe 0.5
    }

    "GQA maps consecutive query heads to one KV head" {
        val s = AttentionSpec.of(8, 2, 4)
        s.groupSize() shouldBe 4
        (0 until 8).map { s.kvHeadOf(it) } shouldBe listOf(0, 0, 0, 0, 1, 1, 1, 1)
        (0 until 6).map { AttentionSpec.of(6, 1, 4).kvHeadOf(it) } shouldBe List(6) { 0 }
        (0 until 3).map { AttentionSpec.of(3, 3, 4).kvHeadOf(it) } shouldBe listOf(0, 1, 2)
    }

    "toBuilder round-trips every field" {
        val s = AttentionSpec.builder(12, 4, 16).vHeadDim(8).scale(0.3).causal().alignment(Alignment.TOP_LEFT)
            .window(5, 2).softcap(30.0).build()
        s.toBuilder().build() shouldBe s
        s.window() shouldBe Window(5, 2)
    }

    "null alignment, window and scale become the defaults" {
        val s = AttentionSpec(4, 4, 8, 8, null, false, null, null, 0.0)
        s.alignment() shouldBe Alignment.BOTTOM_RIGHT
        s.window() shouldBe Window.NONE
        s.scale() shouldBe OptionalDouble.empty()
    }

    "every illegal field is named with expected and actual values" {
        fun msg(block: () -> Unit) = shouldThrow<AttentionException> { block() }.message
        msg { AttentionSpec.of(0, 1, 8) } shouldBe "qHeads: expected >= 1, got 0"
        msg { AttentionSpec.of(4, 0, 8) } shouldBe "kvHeads: expected >= 1, got 0"
        msg { AttentionSpec.of(12, 5, 8) } shouldBe "kvHeads: expected a divisor of qHeads=12, got 5"
        msg { AttentionSpec.of(4, 8, 8) } shouldBe "kvHeads: expected a divisor of qHeads=4, got 8"
        msg { AttentionSpec.of(4, 4, 0) } shouldBe "headDim: expected >= 1, got 0"
        msg { AttentionSpec.builder(4, 4, 8).vHeadDim(0).build() } shouldBe "vHeadDim: expected >= 1, got 0"
        msg { AttentionSpec.builder(4, 4, 8).scale(0.0).build() } shouldBe "scale: expected a finite non-zero number, got 0.0"
        msg { AttentionSpec.builder(4, 4, 8).scale(Double.NaN).build() } shouldBe "scale: expected a finite non-zero number, got NaN"
        msg { AttentionSpec.builder(4, 4, 8).softcap(-1.0).build() } shouldBe
            "softcap: expected a finite number >= 0 (0 = none), got -1.0"
        msg { AttentionSpec.builder(4, 4, 8).softcap(Double.POSITIVE_INFINITY).build() } shouldBe
            "softcap: expected a finite number >= 0 (0 = none), got Infinity"
        msg { Window(-2, 0) } shouldBe "window.left: expected >= -1 (-1 = unbounded), got -2"
        msg { Window(0, -3) } shouldBe "window.right: expected >= -1 (-1 = unbounded), got -3"
        shouldThrow<AttentionException> { AttentionSpec.of(12, 5, 8) }.argument() shouldBe "kvHeads"
    }

    "window bounds around the diagonal; -1 is unbounded" {
        val w = Window(2, 1)                    // d - 2 <= j <= d + 1
        (0 until 10).filter { w.contains(5, it) } shouldBe listOf(3, 4, 5, 6)
        (0 until 10).filter { Window.left(0).contains(5, it) } shouldBe listOf(5, 6, 7, 8, 9)
        (0 until 10).filter { Window(-1, 0).contains(5, it) } shouldBe listOf(0, 1, 2, 3, 4, 5)
        (0 until 4).filter { Window.NONE.contains(-7, it) } shouldBe listOf(0, 1, 2, 3)
        Window.NONE.isNone shouldBe true
        Window.left(3).isNone shouldBe false
    }

    "alignment puts the diagonal bottom-right or top-left" {
        Alignment.BOTTOM_RIGHT.diagonal(0, 2, 5) shouldBe 3
        Alignment.BOTTOM_RIGHT.diagonal(1, 2, 5) shouldBe 4
        Alignment.BOTTOM_RIGHT.diagonal(0, 4, 2) shouldBe -2
        Alignment.TOP_LEFT.diagonal(1, 2, 5) shouldBe 1
    }

    "a problem lists the features it needs" {
        val spec = AttentionSpec.builder(8, 2, 16).vHeadDim(8).causal().alignment(Alignment.TOP_LEFT).window(4, 0)
            .softcap(20.0).scale(0.1).build()
        val p = AttentionProblem.of(spec, 2, 0, 5, OptionalInput.BIAS, OptionalInput.MASK, OptionalInput.ALIBI_SLOPES,
            OptionalInput.SINKS, OptionalInput.KV_LENS)
        p.features() shouldBe setOf(
            Feature.GROUPED_HEADS, Feature.CAUSAL, Feature.TOP_LEFT, Feature.WINDOW, Feature.SOFTCAP, Feature.CUSTOM_SCALE,
            Feature.V_HEAD_DIM, Feature.BIAS, Feature.MASK, Feature.ALIBI, Feature.SINKS, Feature.KV_LENS, Feature.EMPTY)
        AttentionProblem.of(AttentionSpec.of(4, 4, 8), 1, 3, 3).features() shouldBe emptySet()
        // top-left only matters when something depends on the diagonal
        AttentionProblem.of(AttentionSpec.builder(4, 4, 8).alignment(Alignment.TOP_LEFT).build(), 1, 3, 3).features() shouldBe
            emptySet()
        shouldThrow<AttentionException> { AttentionProblem.of(AttentionSpec.of(4, 4, 8), 0, 3, 3) }.argument() shouldBe "batch"
        shouldThrow<AttentionException> { AttentionProblem.of(AttentionSpec.of(4, 4, 8), 1, -1, 3) }.argument() shouldBe "qLen"
    }

    "support collects reasons and throws them all" {
        Support.ok().isSupported shouldBe true
        val no = Support.no("SINKS: not implemented", "MASK: not implemented")
        no.isSupported shouldBe false
        shouldThrow<AttentionException> { no.orThrow("x", "p") }.message shouldBe
            "backend 'x' does not support p: SINKS: not implemented; MASK: not implemented"
        Support.of(emptyList()) shouldBe Support.ok()
    }

    "layer configs check their variant" {
        shouldThrow<AttentionException> { StandardLayerConfig.of(LayerVariant.MHA, 32, 4, 2, 8) }.message shouldBe
            "kvHeads: expected qHeads=4 for MHA, got 2"
        shouldThrow<AttentionException> { StandardLayerConfig.of(LayerVariant.MQA, 32, 4, 2, 8) }.message shouldBe
            "kvHeads: expected 1 for MQA, got 2"
        shouldThrow<AttentionException> { StandardLayerConfig.of(LayerVariant.GQA, 32, 4, 3, 8) }.argument() shouldBe "kvHeads"
        shouldThrow<AttentionException> { StandardLayerConfig.of(LayerVariant.GQA, 32, 4, 2, 0) }.argument() shouldBe "headDim"
        val c = StandardLayerConfig.of(LayerVariant.GQA, 32, 4, 2, 8).withCausal(true)
        c.attentionSpec() shouldBe AttentionSpec.builder(4, 2, 8).causal().build()
    }
})
