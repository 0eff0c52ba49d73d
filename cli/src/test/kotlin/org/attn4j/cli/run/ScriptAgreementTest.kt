package org.attn4j.cli.run

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.dsl.script.AttnScripts
import org.attn4j.dsl.script.Status
import java.nio.file.Files
import java.nio.file.Path

/** Scripts' reference and golden expectations as `attn run` checks them: through [ConformanceChecker]. */
class ScriptAgreementTest : StringSpec({
    val dir = Files.createTempDirectory("attn-agreement")
    val golden = Path.of("../golden/cases").toAbsolutePath().normalize()

    fun run(text: String) = AttnScripts.run(
        dir.resolve("s.attn.kts").also { Files.writeString(it, text.trimIndent() + "\n") }, ConformanceChecker.INSTANCE)

    "the CPU backend matches the reference: kernel, layer, decoding and a golden case pass, named by what ran" {
        val report = run("""
            val layer = gqa { hidden(32); heads(query = 4, kv = 2); headDim(8); causal() }
            expectMatchesReference(attention { heads(query = 4, kv = 2); headDim(8); causal() }, kvLens = intArrayOf(9))
            expectMatchesReference(layer, memoryLen = 5, keepLens = intArrayOf(5, 3))
            expectDecodingMatchesReference(layer, chunks = intArrayOf(4, 1, 1))
            expectGolden("$golden/seed004-gqa-cross-g4-fixed", backend = "cpu")
        """)
        report.problems shouldBe emptyList()
        report.results.map { it.status } shouldBe List(4) { Status.PASSED }
        report.results[0].description shouldStartWith "kernel GQA 4/2 d=8 causal B=1 Lq=13 Lk=13 kv_lens=[9] on cpu"
        report.results[0].detail shouldContain "max |error|"
        report.results[1].description shouldContain "cross Lk=5 key_padding keep=[5, 3] on cpu"
        report.results[3].detail shouldContain "max |error|"
    }

    "a tolerance the float32 kernel cannot meet fails, saying where" {
        val report = run("""
            expectMatchesReference(attention { heads(2); headDim(16) }, tolerance = ToleranceOverride(atol = 0.0, rtol = 0.0))
        """)
        report.results.single().status shouldBe Status.FAILED
        report.results.single().detail shouldContain "OUTSIDE tolerance, first at ["
        report.results.single().detail shouldContain "atol 0.0, rtol 0.0"
    }

    "a check on a backend that does not exist is not run, with the reason" {
        val report = run("""
            expectMatchesReference(attention { heads(4); headDim(8) }, backend = "no-such-backend")
            expectGolden("$golden/seed004-gqa-cross-g4-fixed", backend = "no-such-backend")
        """)
        report.results.map { it.status } shouldBe listOf(Status.NOT_RUN, Status.NOT_RUN)
        report.results.forEach { it.detail shouldContain "no backend named 'no-such-backend'" }
        report.ok shouldBe true
    }

    "the checker applies a script's tolerance on top of FORMAT.md's default" {
        ConformanceChecker.tolerance(null) shouldBe org.attn4j.conformance.golden.Tolerance.DEFAULT
        ConformanceChecker.tolerance(org.attn4j.dsl.check.ToleranceOverride(atol = 1e-3, rtol = null)) shouldBe
            org.attn4j.conformance.golden.Tolerance(1e-3, 1e-4)
    }
})
