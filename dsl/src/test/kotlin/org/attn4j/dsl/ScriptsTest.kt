package org.attn4j.dsl

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.dsl.check.DecodingCheck
import org.attn4j.dsl.check.ExpectationChecker
import org.attn4j.dsl.check.KernelCheck
import org.attn4j.dsl.check.LayerCheck
import org.attn4j.dsl.check.ToleranceOverride
import org.attn4j.dsl.script.AttnScripts
import org.attn4j.dsl.script.ExpectationOutcome
import org.attn4j.dsl.script.Status
import java.nio.file.Files
import java.nio.file.Path

/** How `.attn.kts` scripts report: expectations with pass/fail, and problems as `file:line: message`. */
class ScriptsTest : StringSpec({
    val dir = Files.createTempDirectory("attn-scripts")

    fun script(name: String, text: String): Path = dir.resolve(name).also { Files.writeString(it, text.trimIndent() + "\n") }

    "expectations pass and fail with what was expected, at their line" {
        val f = script("mixed.attn.kts", """
            val mha = model("MHA") { hidden(64); layers(2); mha { heads(4) } }
            val mqa = model("MQA") { hidden(64); layers(2); mqa { heads(4) } }
            expect("MQA caches 1/h") { mqa.kvVsMha shouldBe 0.25 }
            expect("a wrong claim") { mqa.kvBytesPerToken shouldBe mha.kvBytesPerToken }
            expect("a throwing claim") { error("boom") }
        """)
        val report = AttnScripts.run(f)
        report.problems shouldHaveSize 0
        report.results.map { it.status } shouldBe listOf(Status.PASSED, Status.FAILED, Status.FAILED)
        // Hand-worked: MHA caches 2·4 heads·16·2 B·2 layers = 512 B per token, MQA 2·16·2·2 = 128 B.
        report.results[1].detail shouldBe "expected 512, got 128"
        report.results[1].line shouldBe 4
        report.results[2].thrown shouldBe "IllegalStateException: boom"
        report.ok shouldBe false
        report.configs.map { it.name } shouldBe listOf("MHA", "MQA")
    }

    "a StackOverflowError or OutOfMemoryError fails only its expectation, in one line; the next ones still run" {
        val f = script("errors.attn.kts", """
            fun deep(n: Int): Int = deep(n + 1) + 1
            expect("recurses forever") { deep(0) > 0 }
            expect("allocates an impossible array") { LongArray(Int.MAX_VALUE).size > 0 }
            expect("a multi-line message") { throw IllegalArgumentException("first line\nsecond line") }
            expect("still checked") { 1 shouldBe 1 }
        """)
        val report = AttnScripts.run(f)
        report.problems shouldHaveSize 0
        report.results.map { it.status } shouldBe listOf(Status.FAILED, Status.FAILED, Status.FAILED, Status.PASSED)
        report.results[0].thrown shouldBe "StackOverflowError"
        report.results[0].detail shouldBe "thrown at line 1"
        report.results[1].thrown shouldBe "OutOfMemoryError: Requested array size exceeds VM limit"
        report.results[2].thrown shouldBe "IllegalArgumentException: first line"
        report.results[3].thrown shouldBe null
        // after an OutOfMemoryError the JVM may be unusable: the report says so, so a runner can start a fresh one
        report.outOfMemory shouldBe true
    }

    "a script that declares no expectation is not ok: nothing was verified" {
        val f = script("nothing.attn.kts", """
            val a = model("A") { hidden(64); layers(1); mha { heads(4) } }
        """)
        val report = AttnScripts.run(f)
        report.problems shouldHaveSize 0
        report.noExpectations shouldBe true
        report.ok shouldBe false
    }

    "an exception in the script's own code is a problem, bad input only for an invalid config" {
        val f = script("throws.attn.kts", """
            val a = 1
            error("not a config problem")
        """)
        val report = AttnScripts.run(f)
        report.problems.map { it.toString() } shouldBe listOf("$f:2: IllegalStateException: not a config problem")
        report.problems.single().badInput shouldBe false
    }

    "a compile error is file:line: message" {
        val f = script("broken.attn.kts", """
            val a = 1
            val b: Int = "not a number"
        """)
        val report = AttnScripts.run(f)
        report.ok shouldBe false
        report.problems shouldHaveSize 1
        report.problems[0].badInput shouldBe true
        report.problems[0].toString() shouldStartWith "$f:2: "
        report.problems[0].message shouldContain "String"
    }

    "a validation failure while the script runs is file:line: the DSL's message" {
        val f = script("invalid.attn.kts", """
            val ok = attention { heads(8); headDim(16) }

            val bad = attention { heads(query = 12, kv = 5); headDim(64) }
        """)
        val report = AttnScripts.run(f)
        report.problems.map { it.toString() } shouldBe listOf("$f:3: attention.heads: query heads 12 not divisible by kv heads 5")
    }

    "without a checker from the host, reference and golden expectations are not run, with the reason" {
        Files.createDirectories(dir.resolve("some-case"))
        val f = script("nochecker.attn.kts", """
            val layer = gqa { hidden(32); heads(query = 4, kv = 2); headDim(8); causal() }
            expectMatchesReference(attention { heads(4); headDim(8) })
            expectMatchesReference(layer)
            expectDecodingMatchesReference(layer)
            expectGolden("some-case")
        """)
        val report = AttnScripts.run(f)
        report.results.map { it.status } shouldBe List(4) { Status.NOT_RUN }
        report.results.forEach { it.detail shouldContain "no expectation checker" }
        report.results.map { it.description } shouldBe listOf("kernel on cpu: matches the reference",
            "layer on cpu: matches the reference", "KV-cache decoding on cpu: matches the reference",
            "golden case some-case passes on reference")
        report.passed shouldBe 0
    }

    "a golden case folder that does not exist fails, checker or not" {
        val f = script("nocase.attn.kts", """
            expectGolden("no-such-case", backend = "cpu")
        """)
        val report = AttnScripts.run(f)
        report.results.single().status shouldBe Status.FAILED
        report.results.single().detail shouldContain "no such case folder"
    }

    "the scope hands the script's arguments to the host's checker and reports its outcome" {
        val seen = mutableListOf<Any>()
        val checker = object : ExpectationChecker {
            override fun kernel(check: KernelCheck) = ExpectationOutcome(Status.PASSED, "k", "kernel ${check.qLen}x${check.kvLen}")
                .also { seen += check }
            override fun layer(check: LayerCheck) = ExpectationOutcome(Status.FAILED, "l", "layer").also { seen += check }
            override fun decoding(check: DecodingCheck) = ExpectationOutcome(Status.NOT_RUN, "d", "decoding").also { seen += check }
            override fun golden(caseDir: Path, backend: String) =
                ExpectationOutcome(Status.PASSED, "g", "ignored: the script's description stays").also { seen += caseDir to backend }
        }
        Files.createDirectories(dir.resolve("case-a"))
        val f = script("checked.attn.kts", """
            val layer = gqa { hidden(32); heads(query = 4, kv = 2); headDim(8); causal() }
            expectMatchesReference(attention { heads(4); headDim(8) }, backend = "x", qLen = 3, kvLen = 5, kvLens = intArrayOf(4),
                tolerance = ToleranceOverride(atol = 1e-3))
            expectMatchesReference(layer, memoryLen = 6, keepLens = intArrayOf(6, 2), description = "cross")
            expectDecodingMatchesReference(layer, chunks = intArrayOf(3, 1))
            expectGolden("case-a", backend = "y")
        """)
        val report = AttnScripts.run(f, checker)
        report.results.map { it.status } shouldBe listOf(Status.PASSED, Status.FAILED, Status.NOT_RUN, Status.PASSED)
        report.results.map { it.description } shouldBe listOf("kernel 3x5: matches the reference", "cross",
            "decoding: matches the reference", "golden case case-a passes on y")
        report.results.map { it.detail } shouldBe listOf("k", "l", "d", "g")
        val kernel = seen[0] as KernelCheck
        kernel.backend shouldBe "x"
        kernel.kvLens!!.toList() shouldBe listOf(4)
        kernel.tolerance shouldBe ToleranceOverride(atol = 1e-3)
        val cross = seen[1] as LayerCheck
        cross.backend shouldBe "cpu"
        cross.memoryLen shouldBe 6
        cross.keepLens!!.toList() shouldBe listOf(6, 2)
        (seen[2] as DecodingCheck).chunks.toList() shouldBe listOf(3, 1)
        seen[3] shouldBe (dir.resolve("case-a") to "y")
    }

    "a negative or NaN tolerance is a clear error naming the argument" {
        val f = script("badtol.attn.kts", """
            expectMatchesReference(attention { heads(4); headDim(8) }, tolerance = ToleranceOverride(rtol = -1.0))
        """)
        val report = AttnScripts.run(f)
        report.problems.single().badInput shouldBe true
        report.problems.single().message shouldContain "tolerance.rtol"
    }

    "compare() chooses and orders the configs a script offers" {
        val f = script("chosen.attn.kts", """
            val a = model("A") { hidden(64); layers(1); mha { heads(4) } }
            val b = model("B") { hidden(64); layers(1); mqa { heads(4) } }
            compare(b, Presets.mistral7b)
        """)
        AttnScripts.evaluate(f).configs.map { it.name } shouldBe listOf("B", "Mistral-7B-like")
    }
})
