package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

/** The project's golden cases (surefire runs in the module folder). */
private val golden: Path = Paths.get("..", "golden").toAbsolutePath().normalize()

class VerifyCommandTest : StringSpec({

    "every golden case passes on the reference, one line per case, then the summary line" {
        val run = runAttn("verify", golden.toString())
        run.exit shouldBe 0
        val lines = run.outLines
        lines.last() shouldBe "83 passed, 0 failed"
        lines.dropLast(1) shouldHaveSize 83
        lines.dropLast(1).forEach { it.trimEnd().endsWith("pass") shouldBe true }
    }

    "a folder that is itself a case is run alone" {
        val run = runAttn("verify", "--backend", "reference", golden.resolve("cases/seed004-gqa-kvcache-decode-fixed").toString())
        run.exit shouldBe 0
        run.outLines.first() shouldContain "chunks"
        run.outLines.last() shouldBe "1 passed, 0 failed"
    }

    "a malformed case is one clear line and exit status 2, never a stack trace" {
        val dir = Files.createTempDirectory("attn-verify")
        val case = dir.resolve("broken")
        Files.createDirectories(case)
        // copy a real case, then truncate one of its tensors
        val src = golden.resolve("onnx/test_attention_4d")
        Files.list(src).use { files -> files.forEach { Files.copy(it, case.resolve(it.fileName)) } }
        val q = case.resolve("q.npy")
        val bytes = Files.readAllBytes(q)
        Files.write(q, bytes.copyOf(bytes.size - 7))
        val run = runAttn("verify", dir.toString())
        run.exit shouldBe 2
        val lines = run.outLines
        lines shouldHaveSize 2
        lines[0] shouldContain "ERROR"
        lines[0] shouldContain "q.npy"
        lines[1] shouldBe "0 passed, 1 failed"
        (run.out + run.err) shouldNotContain "at org."
        (run.out + run.err) shouldNotContain "Exception in"
    }

    "a path that does not exist is exit status 2 with its name" {
        val run = runAttn("verify", "/nonexistent/attn4j-cases")
        run.exit shouldBe 2
        run.err shouldContain "/nonexistent/attn4j-cases"
    }

    "an unknown backend names the known ones" {
        val run = runAttn("verify", "--backend", "nope", golden.toString())
        run.exit shouldBe 2
        run.err shouldStartWith "attn: backend: expected one of"
        run.err shouldContain "reference"
    }
})
