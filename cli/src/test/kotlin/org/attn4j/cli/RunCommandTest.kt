package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.PrintWriter
import java.io.StringWriter
import java.nio.file.Files

private data class ScriptRun(val status: Int, val out: String, val err: String)

private fun attnRun(vararg args: String): ScriptRun {
    val out = StringWriter()
    val err = StringWriter()
    val cl = Attn.commandLine()
    cl.setOut(PrintWriter(out))
    cl.setErr(PrintWriter(err))
    val status = cl.execute("run", *args)
    return ScriptRun(status, out.toString(), err.toString())
}

/** `attn run`: one line per expectation, a summary, and the exit status scripts and CI rely on. */
class RunCommandTest : StringSpec({
    val dir = Files.createTempDirectory("attn-run")

    "an example script passes: every expectation printed, exit 0" {
        val r = attnRun(examples().resolve("cost-table.attn.kts").toString())
        r.status shouldBe 0
        r.out shouldContain "  pass     MQA caches 1/h of MHA"
        r.out shouldContain "8 passed, 0 failed"
    }

    "a failed expectation prints FAIL with what was expected and where, exit 1" {
        val f = dir.resolve("wrong.attn.kts")
        Files.writeString(f, """
            val mqa = model("MQA") { hidden(64); layers(1); mqa { heads(8) } }
            expect("MQA caches as much as MHA") { mqa.kvVsMha shouldBe 1.0 }
            expect("MQA caches 1/h") { mqa.kvVsMha shouldBe 1.0 / 8 }
        """.trimIndent() + "\n")
        val r = attnRun(f.toString())
        r.status shouldBe 1
        r.out shouldContain "FAIL     MQA caches as much as MHA"
        r.out shouldContain "expected 1.0, got 0.125"
        r.out shouldContain "at $f:2"
        r.out shouldContain "1 passed, 1 failed"
    }

    "an invalid config is file:line: message on stderr, no stack trace, exit 2" {
        val f = dir.resolve("invalid.attn.kts")
        Files.writeString(f, "val ok = 1\nval spec = attention { heads(query = 12, kv = 5); headDim(64) }\n")
        val r = attnRun(f.toString())
        r.status shouldBe Attn.EXIT_BAD_INPUT
        r.err.trim() shouldBe "$f:2: attention.heads: query heads 12 not divisible by kv heads 5"
        r.out shouldNotContain "Exception"
    }

    "--strict fails when an expectation could not run" {
        val f = dir.resolve("notrun.attn.kts")
        Files.writeString(f, "expectMatchesReference(attention { heads(2); headDim(4) }, backend = \"no-such-backend\")\n" +
            "expect(\"one thing verified\") { 2 shouldBe 2 }\n")
        attnRun(f.toString()).status shouldBe 0
        val strict = attnRun("--strict", f.toString())
        strict.status shouldBe 1
        strict.out shouldContain "not run"
        strict.out shouldContain "no backend named 'no-such-backend'"
    }

    "nothing verified is not exit 0: a script without expectations, or a run where no expectation could run" {
        val none = dir.resolve("none.attn.kts")
        Files.writeString(none, "val a = model(\"A\") { hidden(64); layers(1); mha { heads(4) } }\n")
        val onlyNotRun = dir.resolve("onlynotrun.attn.kts")
        Files.writeString(onlyNotRun, "expectMatchesReference(attention { heads(2); headDim(4) }, backend = \"no-such-backend\")\n")
        val r = attnRun(none.toString(), onlyNotRun.toString())
        r.status shouldBe 1
        r.out shouldContain "  FAIL     $none: no expectations: nothing verified"
        r.out shouldContain "0 passed, 0 failed, 1 not run; failed scripts: $none (no expectations: nothing verified)"
        val alone = attnRun(onlyNotRun.toString())
        alone.status shouldBe 1
        alone.out shouldContain "0 passed, 0 failed, 1 not run; nothing verified"
    }

    "--timeout must be a positive number of seconds" {
        val r = attnRun("--timeout", "0", dir.resolve("whatever.attn.kts").toString())
        r.status shouldBe Attn.EXIT_BAD_INPUT
        r.err.trim() shouldBe "attn: --timeout: expected >= 1 second, got 0"
    }
})
