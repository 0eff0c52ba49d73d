package org.attn4j.cli

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.StandardLayerConfig
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenDirs
import org.attn4j.conformance.agreement.*
import org.attn4j.conformance.golden.Tolerance

/** (Lives in cli: conformance cannot see the kernels.) The agreement checks scripts use: the CPU backend against the float64 reference, with FORMAT.md's rule. */
class AgreementTest : StringSpec({
    val inf = Double.POSITIVE_INFINITY

    "equal infinities agree, as FORMAT.md says (the dsl's own comparison made them NaN and failed)" {
        val expected = DoubleTensor.of(doubleArrayOf(inf, -inf, 1.0), 3)
        val actual = FloatTensor.of(floatArrayOf(Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1f), 3)
        val a = ReferenceChecks.compare("t", "b", actual, expected, Tolerance.DEFAULT)
        a.withinTolerance shouldBe true
        a.maxAbsError shouldBe 0.0
    }

    "an infinity of the other sign, a NaN, or an error past atol + rtol·|expected| is outside tolerance" {
        val expected = DoubleTensor.of(doubleArrayOf(inf, 1.0, 100.0), 3)
        ReferenceChecks.compare("t", "b", FloatTensor.of(floatArrayOf(Float.NEGATIVE_INFINITY, 1f, 100f), 3), expected,
            Tolerance.DEFAULT).withinTolerance shouldBe false
        ReferenceChecks.compare("t", "b", FloatTensor.of(floatArrayOf(Float.POSITIVE_INFINITY, Float.NaN, 100f), 3), expected,
            Tolerance.DEFAULT).withinTolerance shouldBe false
        // bound at 100 is 1e-5 + 1e-4·100 = 0.01001: 100.011 is out, 100.009 is in
        val out = ReferenceChecks.compare("t", "b", DoubleTensor.of(doubleArrayOf(inf, 1.0, 100.011), 3), expected, Tolerance.DEFAULT)
        out.withinTolerance shouldBe false
        out.failures shouldBe 1
        out.firstFailure!! shouldContain "[2]"
        ReferenceChecks.compare("t", "b", DoubleTensor.of(doubleArrayOf(inf, 1.0, 100.009), 3), expected, Tolerance.DEFAULT)
            .withinTolerance shouldBe true
    }

    "a shape mismatch is outside tolerance and names both shapes" {
        val a = ReferenceChecks.compare("t", "b", DoubleTensor.zeros(2, 3), DoubleTensor.zeros(3, 2), Tolerance.DEFAULT)
        a.withinTolerance shouldBe false
        a.firstFailure!! shouldContain "[3, 2]"
        a.firstFailure!! shouldContain "[2, 3]"
    }

    "the CPU kernel agrees with the reference: GQA causal, padded sequences" {
        val spec = AttentionSpec.builder(4, 2, 8).causal().build()
        val a = ReferenceChecks.kernel(spec, "cpu", batch = 2, qLen = 5, kvLen = 9, kvLens = intArrayOf(9, 4))
            .shouldBeInstanceOf<Agreement>()
        a.withinTolerance shouldBe true
        a.elements shouldBe 2 * 4 * 5 * 8
        a.maxAbsError shouldBeLessThan 1e-5
    }

    "zero tolerance catches the float32 rounding of the CPU kernel (the check can fail)" {
        val a = ReferenceChecks.kernel(AttentionSpec.of(2, 2, 16), "cpu", tolerance = Tolerance(0.0, 0.0))
            .shouldBeInstanceOf<Agreement>()
        a.withinTolerance shouldBe false
        a.summary shouldContain "OUTSIDE tolerance"
    }

    "a layer and chunked KV-cache decoding on the CPU agree with the reference layer" {
        val config = StandardLayerConfig.of(LayerVariant.GQA, 32, 4, 2, 8).withCausal(true)
        ReferenceChecks.layer(config, "cpu").shouldBeInstanceOf<Agreement>().withinTolerance shouldBe true
        ReferenceChecks.decoding(config, "cpu", chunks = intArrayOf(4, 1, 2)).shouldBeInstanceOf<Agreement>()
            .withinTolerance shouldBe true
    }

    "decoding needs a causal layer: a clear error naming the argument" {
        val e = shouldThrow<AttentionException> {
            ReferenceChecks.decoding(StandardLayerConfig.of(LayerVariant.MHA, 16, 2, 2, 8), "cpu")
        }
        e.message!! shouldContain "config.causal"
    }

    "an unknown backend is not run, with the backends that exist" {
        val n = ReferenceChecks.kernel(AttentionSpec.of(2, 2, 4), "no-such-backend").shouldBeInstanceOf<NotRun>()
        n.reasons.single() shouldContain "no backend named 'no-such-backend'"
        n.reasons.single() shouldContain "reference"
    }

    "a golden case runs through the golden runner" {
        val case = GoldenDirs.project().resolve("cases/seed004-gqa-cross-g4-fixed")
        val g = ReferenceChecks.golden(case, "cpu").shouldBeInstanceOf<GoldenCheck>()
        g.result.status shouldBe CaseResult.Status.PASSED
        ReferenceChecks.golden(case, "no-such-backend").shouldBeInstanceOf<NotRun>()
    }
})
