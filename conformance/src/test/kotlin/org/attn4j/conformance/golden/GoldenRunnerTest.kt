package org.attn4j.conformance.golden

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.KvCache
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerVariant
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Support
import org.attn4j.api.Tensor
import java.nio.file.Files
import java.nio.file.Path

/**
 * The runner's own logic, checked with stub backends whose outputs are chosen by hand (no attention maths
 * here: the stubs return the expected tensor, a perturbed copy, or throw).
 */
class GoldenRunnerTest : FunSpec({
    val root = tempdir().toPath()

    context("the tolerance rule (hand-worked)") {
        val t = Tolerance(1e-5, 1e-4)
        test("|a - e| <= atol + rtol*|e|") {
            // e = 2: bound = 1e-5 + 2e-4 = 2.1e-4
            t.allows(2.0, 2.0002) shouldBe true
            t.allows(2.0, 2.00022) shouldBe false
            t.allows(-2.0, -2.0002) shouldBe true
            // e = 0: bound = atol
            t.allows(0.0, 0.9e-5) shouldBe true
            t.allows(0.0, 1.1e-5) shouldBe false
            // the bound is relative to the expected value, not the actual one: e = 0, a = 1 fails although rtol*|a| ...
            t.allows(0.0, 1.0) shouldBe false
        }
        test("infinities match only when equal; NaN never matches") {
            t.allows(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY) shouldBe true
            t.allows(Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY) shouldBe true
            t.allows(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY) shouldBe false
            t.allows(Double.NEGATIVE_INFINITY, -1e300) shouldBe false
            t.allows(1.0, Double.POSITIVE_INFINITY) shouldBe false
            t.allows(Double.NaN, Double.NaN) shouldBe false
            t.allows(0.0, Double.NaN) shouldBe false
        }
        test("compare reports the max error, the count and the first failing element") {
            val e = DoubleTensor.of(doubleArrayOf(1.0, 2.0, Double.NEGATIVE_INFINITY, 4.0), 2, 2)
            val ok = GoldenRunner.compare(e, DoubleTensor.of(doubleArrayOf(1.0, 2.0001, Double.NEGATIVE_INFINITY, 4.0), 2, 2), t)
            ok.passed shouldBe true
            ok.maxError shouldBe (1e-4 plusOrMinus 1e-12)
            val bad = GoldenRunner.compare(e, FloatTensor.of(floatArrayOf(1f, 2f, Float.NEGATIVE_INFINITY, 4.5f), 2, 2), t)
            bad.passed shouldBe false
            bad.failures shouldBe 1
            bad.maxError shouldBe 0.5
            bad.firstFailure!! shouldContain "[1, 1]: expected 4.0, got 4.5"
            val nan = GoldenRunner.compare(e, DoubleTensor.of(doubleArrayOf(Double.NaN, 2.0, Double.NEGATIVE_INFINITY, 4.0), 2, 2), t)
            nan.passed shouldBe false
            nan.maxError.isNaN() shouldBe true
            GoldenRunner.compare(e, DoubleTensor.zeros(4), t).firstFailure!! shouldContain "shape: expected [2, 2], got [4]"
        }
        test("the float64 rule tightens every element to 1e-9") {
            val e = DoubleTensor.of(doubleArrayOf(1.0), 1)
            val a = DoubleTensor.of(doubleArrayOf(1.0 + 1e-7), 1)
            GoldenRunner.compare(e, a, t).passed shouldBe true
            GoldenRunner.compare(e, a, t, Tolerance.FLOAT64).passed shouldBe false
        }
    }

    context("discover") {
        test("case folders below the given paths, sorted, deduplicated; a case folder or case.json itself counts") {
            val base = root.resolve("disc")
            for (p in listOf("b/c2", "a/c1", "a/deeper/c3", "z/not-a-case")) Files.createDirectories(base.resolve(p))
            for (p in listOf("b/c2", "a/c1", "a/deeper/c3")) Files.writeString(base.resolve(p).resolve("case.json"), "{}")
            Files.writeString(base.resolve("z/not-a-case/readme.txt"), "")
            val abs = base.toAbsolutePath()
            GoldenRunner.discover(listOf(base)) shouldBe listOf(abs.resolve("a/c1"), abs.resolve("a/deeper/c3"), abs.resolve("b/c2"))
            GoldenRunner.discover(listOf(base.resolve("b/c2"), base.resolve("a/c1/case.json"), base.resolve("a"))) shouldBe
                listOf(abs.resolve("a/c1"), abs.resolve("a/deeper/c3"), abs.resolve("b/c2"))
            GoldenRunner.discover(listOf(base.resolve("z"))) shouldBe emptyList()
            shouldThrow<GoldenFormatException> { GoldenRunner.discover(listOf(base.resolve("nope"))) }.message shouldContain
                "no such file or directory"
        }
        test("the project's golden folder holds 93 cases") {
            GoldenRunner.discover(listOf(Fixtures.goldenDir)).size shouldBe 93
        }
    }

    // A kernel case written with the Npy writer: B 1, 2 heads, q_len 2, kv_len 3, head_dim 2; expected out in float64.
    val expectedOut = DoubleTensor.of(DoubleArray(8) { 0.125 * it - 0.3 }, 1, 2, 2, 2)
    val expectedLse = DoubleTensor.of(doubleArrayOf(0.5, 1.5, Double.NEGATIVE_INFINITY, 2.0), 1, 2, 2)
    fun kernelDir(withLse: Boolean): Path {
        val d = root.resolve(if (withLse) "kernel-lse" else "kernel")
        if (Files.exists(d)) return d
        val spec = AttentionSpec.of(2, 2, 2)
        val inputs = AttentionInputs.of(FloatTensor.zeros(1, 2, 2, 2), FloatTensor.zeros(1, 2, 3, 2), FloatTensor.zeros(1, 2, 3, 2))
        GoldenExport.write(d, "stub-kernel", "hand-written for runner tests", spec, inputs,
            AttentionOutput(expectedOut, if (withLse) expectedLse else null))
        return d
    }

    fun stub(precision: Precision = Precision.FLOAT32, support: Support = Support.ok(),
             run: (AttentionInputs) -> AttentionOutput = { AttentionOutput(expectedOut.copy(), expectedLse.copy()) },
             layer: ((LayerConfig) -> LayerPlan)? = null): AttentionBackend = object : AttentionBackend {
        override fun name() = "stub"
        override fun precision() = precision
        override fun support(problem: AttentionProblem) = support
        override fun plan(problem: AttentionProblem, options: PlanOptions) = object : AttentionPlan {
            override fun problem() = problem
            override fun run(inputs: AttentionInputs) = run(inputs)
        }
        override fun supportLayer(config: LayerConfig) = support
        override fun planLayer(config: LayerConfig, weights: LayerWeights, options: PlanOptions) = layer!!(config)
    }

    context("run on stub backends") {
        test("exact output passes with max error 0") {
            val r = GoldenRunner.run(kernelDir(false), stub())
            r.status shouldBe CaseResult.Status.PASSED
            r.maxError shouldBe 0.0
            r.name shouldBe "stub-kernel"
            r.kind shouldBe "kernel"
            r.features shouldBe listOf("f64")
        }
        test("one element off by 1e-3 fails, naming it") {
            val off = expectedOut.copy().also { it.set(it.get(0, 1, 1, 0) + 1e-3, 0, 1, 1, 0) }
            val r = GoldenRunner.run(kernelDir(false), stub(run = { AttentionOutput(off, null) }))
            r.status shouldBe CaseResult.Status.FAILED
            r.maxError shouldBe (1e-3 plusOrMinus 1e-12)
            r.message shouldContain "out: 1 element(s) outside tolerance"
            r.message shouldContain "out[0, 1, 1, 0]"
        }
        test("float64 expected values: 1e-7 passes a float32 backend but not a float64 one") {
            val off = DoubleTensor.of(expectedOut.toDoubleArray().map { it + 1e-7 }.toDoubleArray(), 1, 2, 2, 2)
            GoldenRunner.run(kernelDir(false), stub(Precision.FLOAT32, run = { AttentionOutput(off, null) })).status shouldBe
                CaseResult.Status.PASSED
            val r = GoldenRunner.run(kernelDir(false), stub(Precision.FLOAT64, run = { AttentionOutput(off, null) }))
            r.status shouldBe CaseResult.Status.FAILED
            r.message shouldContain "atol 1.0E-9, rtol 1.0E-9"
        }
        test("lse is compared when expected, infinities included, and required") {
            GoldenRunner.run(kernelDir(true), stub()).status shouldBe CaseResult.Status.PASSED
            val wrongInf = expectedLse.copy().also { it.set(-1e30, 0, 1, 0) }
            val r = GoldenRunner.run(kernelDir(true), stub(run = { AttentionOutput(expectedOut.copy(), wrongInf) }))
            r.status shouldBe CaseResult.Status.FAILED
            r.message shouldContain "lse[0, 1, 0]: expected -Infinity, got -1.0E30"
            r.maxError shouldBe Double.POSITIVE_INFINITY
            GoldenRunner.run(kernelDir(true), stub(run = { AttentionOutput(expectedOut.copy(), null) })).message shouldContain
                "the backend returned no lse"
        }
        test("an unsupported problem is SKIPPED with the backend's reasons") {
            val r = GoldenRunner.run(kernelDir(false), stub(support = Support.no("MASK: not implemented", "FLOAT64 outputs")))
            r.status shouldBe CaseResult.Status.SKIPPED
            r.message shouldBe "MASK: not implemented; FLOAT64 outputs"
        }
        test("a backend that throws FAILS instead of crashing the runner") {
            val r1 = GoldenRunner.run(kernelDir(false), stub(run = { throw AttentionException.invalid("q", "something", "else") }))
            r1.status shouldBe CaseResult.Status.FAILED
            r1.message shouldContain "q: expected something, got else"
            val r2 = GoldenRunner.run(kernelDir(false), stub(run = { throw ArrayIndexOutOfBoundsException("Index 9") }))
            r2.status shouldBe CaseResult.Status.FAILED
            r2.message shouldContain "ArrayIndexOutOfBoundsException: Index 9"
            val r3 = GoldenRunner.run(kernelDir(false), stub(run = { AttentionOutput(DoubleTensor.zeros(1, 2, 2, 3), null) }))
            r3.status shouldBe CaseResult.Status.FAILED
            r3.message shouldContain "shape: expected [1, 2, 2, 2], got [1, 2, 2, 3]"
        }
        test("an unreadable case is an ERROR result, never an exception") {
            val d = root.resolve("broken").also { Files.createDirectories(it); Files.writeString(it.resolve("case.json"), "{") }
            val r = GoldenRunner.run(d, stub())
            r.status shouldBe CaseResult.Status.ERROR
            r.name shouldBe "broken"
            r.kind shouldBe "?"
            r.message shouldContain "invalid JSON"
            GoldenRunner.run(root.resolve("does-not-exist"), stub()).status shouldBe CaseResult.Status.ERROR
        }
        test("chunks: a fresh cache of q_len tokens, one step per chunk in order, outputs concatenated along the sequence") {
            // A layer with hidden 4 whose stub step returns its input: the concatenation must then equal x.
            val x = FloatTensor.of(FloatArray(2 * 5 * 4) { it.toFloat() }, 2, 5, 4)
            val cfg = StandardLayerConfig.of(LayerVariant.MHA, 4, 1, 1, 4).withCausal(true)
            val w = FloatTensor.zeros(4, 4)
            val d = root.resolve("chunked")
            GoldenExport.write(d, "chunked", "stub", cfg, StandardLayerWeights(w, null, w, null, w, null, w, null), x, null, null, x,
                intArrayOf(3, 1, 1))
            val seen = mutableListOf<Int>()
            var cacheArgs: Pair<Int, Int>? = null
            val identity = { c: LayerConfig ->
                object : LayerPlan {
                    override fun config() = c
                    override fun forward(x: Tensor, kvX: Tensor?, keyPaddingMask: BoolTensor?): Tensor = error("not used with chunks")
                    override fun newCache(batch: Int, maxLength: Int): KvCache {
                        cacheArgs = batch to maxLength
                        return ContiguousKvCache(DType.FLOAT32, batch, 1, maxLength, 4, 4)
                    }
                    override fun step(x: Tensor, cache: KvCache): Tensor = x.also { seen += it.size(1) }
                }
            }
            val r = GoldenRunner.run(d, stub(layer = identity))
            r.status shouldBe CaseResult.Status.PASSED
            r.features shouldBe listOf("causal", "chunks")
            seen shouldBe listOf(3, 1, 1)
            cacheArgs shouldBe (2 to 5)
            // and a step that returns the wrong chunk order is caught
            var calls = 0
            val shifted = { c: LayerConfig ->
                object : LayerPlan {
                    override fun config() = c
                    override fun forward(x: Tensor, kvX: Tensor?, keyPaddingMask: BoolTensor?): Tensor = error("unused")
                    override fun newCache(batch: Int, maxLength: Int): KvCache = ContiguousKvCache(DType.FLOAT32, batch, 1, maxLength, 4, 4)
                    override fun step(x: Tensor, cache: KvCache): Tensor = if (calls++ == 1) FloatTensor.zeros(2, 1, 4) else x
                }
            }
            val bad = GoldenRunner.run(d, stub(layer = shifted))
            bad.status shouldBe CaseResult.Status.FAILED
            bad.maxError shouldBeGreaterThan 1.0
        }
    }
})
