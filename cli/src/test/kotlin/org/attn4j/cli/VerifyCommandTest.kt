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

/** A copy of the golden case [name] in a fresh temporary folder: (that folder, the copied case folder). */
private fun copyCase(name: String, as_: String = name): Pair<Path, Path> {
    val dir = Files.createTempDirectory("attn-verify")
    val case = Files.createDirectories(dir.resolve(as_))
    Files.list(golden.resolve("cases/$name")).use { files -> files.forEach { Files.copy(it, case.resolve(it.fileName)) } }
    return dir to case
}

/** A numpy .npy file of booleans (|b1), all true, of shape [rows, cols]. */
private fun writeBoolNpy(file: Path, rows: Int, cols: Int) {
    var header = "{'descr': '|b1', 'fortran_order': False, 'shape': ($rows, $cols), }"
    while ((10 + header.length + 1) % 64 != 0) header += " "
    header += "\n"
    val bytes = java.io.ByteArrayOutputStream()
    bytes.write(byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte(), 1, 0))
    bytes.write(header.length and 0xff)
    bytes.write(header.length shr 8)
    bytes.write(header.toByteArray(Charsets.US_ASCII))
    repeat(rows * cols) { bytes.write(1) }
    Files.write(file, bytes.toByteArray())
}

class VerifyCommandTest : StringSpec({

    "every golden case passes on the reference, one line per case, then the summary line" {
        val run = runAttn("verify", golden.toString())
        run.exit shouldBe 0
        val lines = run.outLines
        lines.last() shouldBe "93 passed, 0 failed"
        lines.dropLast(1) shouldHaveSize 93
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

    "cases that are all skipped verify nothing: exit 3 and a message, not a green 0" {
        // A chunked layer case with a key padding mask: the format allows it, LayerPlan.step cannot take the mask,
        // so every backend skips it.
        val (dir, case) = copyCase("seed004-gqa-kvcache-decode-fixed", "chunked-with-padding")
        writeBoolNpy(case.resolve("key_padding_mask.npy"), 2, 6)
        val json = case.resolve("case.json")
        Files.writeString(json, Files.readString(json).replace("\"x\": \"x.npy\",", "\"x\": \"x.npy\", \"key_padding_mask\": \"key_padding_mask.npy\","))
        val run = runAttn("verify", dir.toString())
        run.outLines.last() shouldBe "0 passed, 0 failed, 1 skipped"
        run.exit shouldBe Attn.EXIT_NOTHING_VERIFIED
        run.exit shouldBe 3
        run.err shouldContain "nothing verified"
        run.err.lines().filter { it.isNotBlank() } shouldHaveSize 1
        // One case that runs is enough for a pass.
        Files.list(golden.resolve("cases/seed004-gqa-kvcache-decode-fixed")).use { files ->
            val other = Files.createDirectories(dir.resolve("runs"))
            files.forEach { Files.copy(it, other.resolve(it.fileName)) }
        }
        val mixed = runAttn("verify", dir.toString())
        mixed.outLines.last() shouldBe "1 passed, 0 failed, 1 skipped"
        mixed.exit shouldBe 0
    }

    "a case name with a newline or ANSI escapes cannot forge or erase output lines" {
        val (dir, case) = copyCase("seed004-gqa-kvcache-decode-fixed")
        val json = case.resolve("case.json")
        // JSON escapes: a newline, a forged summary, ESC[2K (erase line) and ESC[1A (cursor up)
        val forged = "x\\n1000 passed, 0 failed\\u001b[2K\\u001b[1A\\r"
        Files.writeString(json, Files.readString(json).replace("\"name\": \"seed004-gqa-kvcache-decode-fixed\"", "\"name\": \"$forged\""))
        val run = runAttn("verify", dir.toString())
        run.exit shouldBe 0
        val lines = run.out.lines().filter { it.isNotEmpty() }
        lines shouldHaveSize 2
        lines[0] shouldStartWith "x\\n1000 passed, 0 failed\\x1b[2K\\x1b[1A\\r"
        lines[1] shouldBe "1 passed, 0 failed"
        run.out shouldNotContain "\u001b"
        run.out shouldNotContain "\r"
    }
})
