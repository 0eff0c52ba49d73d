package org.attn4j.conformance.golden

import com.fasterxml.jackson.databind.ObjectMapper
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.shouldBe
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.BoolTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.nio.file.Files
import java.util.OptionalDouble
import java.util.Random

/**
 * Export round trip: a case computed by the reference backend is written with [GoldenExport], read back with
 * [GoldenCase.read] (every tensor identical), and passes when run again through [GoldenRunner].
 */
class GoldenExportTest : FunSpec({
    val root = tempdir().toPath()
    val reference = Backends.byName("reference")
    val rnd = Random(20241123)

    fun randn(vararg shape: Int): FloatTensor {
        val n = shape.fold(1) { a, b -> a * b }
        return FloatTensor.of(FloatArray(n) { (rnd.nextGaussian() * 0.5).toFloat() }, *shape)
    }

    fun sameValues(a: Tensor?, b: Tensor?) {
        if (a == null || b == null) {
            (a == null) shouldBe (b == null)
            return
        }
        b.dtype() shouldBe a.dtype()
        b.shape().toList() shouldBe a.shape().toList()
        b.toDoubleArray().map { it.toRawBits() } shouldBe a.toDoubleArray().map { it.toRawBits() }
    }

    test("a kernel case with every optional input and option") {
        val spec = AttentionSpec.builder(4, 2, 3).vHeadDim(5).scale(0.7).causal().alignment(Alignment.BOTTOM_RIGHT)
            .window(Window(2, 1)).softcap(4.0).build()
        val mask = BoolTensor.of(BooleanArray(2 * 3 * 6) { rnd.nextInt(5) != 0 }, 2, 1, 3, 6)
        val inputs = AttentionInputs.of(randn(2, 4, 3, 3), randn(2, 2, 6, 3), randn(2, 2, 6, 5)).withBias(randn(3, 6)).withMask(mask)
            .withKvLens(IntTensor.of(intArrayOf(5, 6), 2)).withAlibiSlopes(randn(4)).withSinks(randn(4))
        val out = reference.plan(inputs.validate(spec), PlanOptions.defaults()).use { it.run(inputs) }
        val dir = root.resolve("kernel")
        val back = GoldenExport.write(dir, "export-kernel", "attn4j reference, java.util.Random(20241123)", spec, inputs, out,
            Tolerance(2e-5, 2e-4))

        back.spec shouldBe spec
        back.tolerance shouldBe Tolerance(2e-5, 2e-4)
        sameValues(inputs.q(), back.inputs.q())
        sameValues(inputs.k(), back.inputs.k())
        sameValues(inputs.v(), back.inputs.v())
        sameValues(inputs.bias(), back.inputs.bias())
        sameValues(inputs.mask(), back.inputs.mask())
        sameValues(inputs.kvLens(), back.inputs.kvLens())
        sameValues(inputs.alibiSlopes(), back.inputs.alibiSlopes())
        sameValues(inputs.sinks(), back.inputs.sinks())
        sameValues(out.out(), back.expectedOut)
        sameValues(out.lse(), back.expectedLse)
        back.features shouldBe listOf("gqa", "causal", "window", "softcap", "scale", "dv!=d", "bias", "mask", "kv_lens", "alibi",
            "sinks", "lse", "f64")

        // what a Python user sees: plain JSON with the FORMAT.md keys
        val json = ObjectMapper().readTree(dir.resolve("case.json").toFile())
        json["format"].asText() shouldBe "attention-golden/1"
        json["spec"]["window"].toString() shouldBe "[2,1]"
        json["inputs"]["kv_lens"].asText() shouldBe "kv_lens.npy"

        val r = GoldenRunner.run(dir, reference)
        withClue(r.message) { r.status shouldBe CaseResult.Status.PASSED }
    }

    test("a GQA cross-attention layer with biases and a key padding mask") {
        val cfg = StandardLayerConfig(LayerVariant.GQA, 12, 4, 2, 3, true, false, Alignment.BOTTOM_RIGHT, Window.NONE, 0.0,
            OptionalDouble.empty())
        val w = StandardLayerWeights(randn(12, 12), randn(12), randn(6, 12), randn(6), randn(6, 12), randn(6), randn(12, 12), randn(12))
        val x = randn(2, 3, 12)
        val kvX = randn(2, 5, 12)
        val pad = BoolTensor.of(booleanArrayOf(true, true, true, false, false, true, true, true, true, true), 2, 5)
        val y = reference.planLayer(cfg, w, PlanOptions.defaults()).use { it.forward(x, kvX, pad) }
        val dir = root.resolve("cross")
        val back = GoldenExport.write(dir, "export-cross", "attn4j reference", cfg, w, x, kvX, pad, y)
        back.config shouldBe cfg
        sameValues(kvX, back.kvX)
        sameValues(pad, back.keyPaddingMask)
        sameValues(y, back.expectedY)
        back.features shouldBe listOf("gqa", "proj_bias", "cross", "keypad", "f64")
        val r = GoldenRunner.run(dir, reference)
        withClue(r.message) { r.status shouldBe CaseResult.Status.PASSED }
    }

    test("a causal self-attention layer exported from one forward call passes when replayed in chunks through the cache") {
        val cfg = StandardLayerConfig(LayerVariant.MQA, 8, 4, 1, 2, false, true, Alignment.BOTTOM_RIGHT, Window(3, 0), 0.0,
            OptionalDouble.empty())
        val w = StandardLayerWeights(randn(8, 8), null, randn(2, 8), null, randn(2, 8), null, randn(8, 8), null)
        val x = randn(2, 6, 8)
        val y = reference.planLayer(cfg, w, PlanOptions.defaults()).use { it.forward(x, null, null) }
        val dir = root.resolve("chunks")
        val back = GoldenExport.write(dir, "export-chunks", "attn4j reference forward()", cfg, w, x, null, null, y, intArrayOf(3, 2, 1))
        back.chunks!!.toList() shouldBe listOf(3, 2, 1)
        back.features shouldBe listOf("mqa", "causal", "window", "chunks", "f64")
        val r = GoldenRunner.run(dir, reference)
        withClue(r.message) { r.status shouldBe CaseResult.Status.PASSED }
    }

    test("MLA layers, with and without query LoRA, in one call and in chunks") {
        for (qLora in listOf(0, 6)) {
            val cfg = MlaLayerConfig(16, 2, qLora, 5, 3, 4, 3, 500.0, true, 1e-5, 2, true, Alignment.BOTTOM_RIGHT, 0.0,
                OptionalDouble.empty())
            val qOut = 2 * 7
            val w = MlaLayerWeights(if (qLora == 0) randn(qOut, 16) else null, if (qLora > 0) randn(qLora, 16) else null,
                if (qLora > 0) randn(qLora) else null, if (qLora > 0) randn(qOut, qLora) else null, randn(9, 16), randn(5),
                randn(2 * (3 + 3), 5), randn(16, 6))
            val x = randn(1, 5, 16)
            val y = reference.planLayer(cfg, w, PlanOptions.defaults()).use { it.forward(x, null, null) }
            for (chunks in listOf(null, intArrayOf(2, 1, 1, 1))) {
                val dir = root.resolve("mla-$qLora-${chunks != null}")
                val back = GoldenExport.write(dir, "export-mla", "attn4j reference", cfg, w, x, null, null, y, chunks)
                back.config shouldBe cfg
                sameValues(w.wKvB(), (back.weights as MlaLayerWeights).wKvB())
                val r = GoldenRunner.run(dir, reference)
                withClue("q_lora_rank $qLora, chunks ${chunks?.toList()}: ${r.message}") { r.status shouldBe CaseResult.Status.PASSED }
            }
        }
        Files.exists(root.resolve("mla-6-true/w_q_a.npy")) shouldBe true
        Files.exists(root.resolve("mla-6-true/w_q.npy")) shouldBe false
    }
})
