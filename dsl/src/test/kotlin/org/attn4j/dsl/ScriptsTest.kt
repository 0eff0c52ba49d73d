package org.attn4j.dsl

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.dsl.script.AttnScripts
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

    "a check on a backend that does not exist is not run, with the reason" {
        val f = script("nobackend.attn.kts", """
            expectMatchesReference(attention { heads(4); headDim(8) }, backend = "no-such-backend")
        """)
        val report = AttnScripts.run(f)
        report.results.single().status shouldBe Status.NOT_RUN
        report.results.single().detail shouldContain "no backend named 'no-such-backend'"
        report.ok shouldBe true
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
