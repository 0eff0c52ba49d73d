package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.conformance.golden.GoldenDirs
import java.nio.file.Files

class MatrixCommandTest : StringSpec({
    "writes one row per check and golden group, one column per backend, as Markdown and HTML" {
        val dir = Files.createTempDirectory("attn-matrix")
        val md = dir.resolve("matrix.md")
        val html = dir.resolve("matrix.html")
        val run = runAttn("matrix", "--iterations", "2", "--checks", "kernel/basic,kernel/window",
            "--md", md.toString(), "--html", html.toString())
        run.exit shouldBe 0
        run.out shouldContain "| check | reference | cpu | opencl | onnxruntime |"
        // the reference implements every feature: its cells pass
        Regex("""\| kernel/basic \| pass \(\d+""").containsMatchIn(run.out) shouldBe true
        run.out shouldContain "| golden/onnx |"
        // ONNX Attention has no window: onnxruntime declines it (when its native library loads in this JVM)
        // (another test in this JVM may hold ONNX Runtime's native library in its own class loader: then it is unavailable)
        val ortLoaded = !run.out.substringAfter("## Unavailable backends", "").contains("- onnxruntime:")
        if (ortLoaded) Regex("""\| kernel/window \|[^\n]*\| skip: WINDOW: ONNX Attention""").containsMatchIn(run.out) shouldBe true
        Files.readString(md) shouldBe run.out
        val page = Files.readString(html)
        page shouldContain "<table>"
        page shouldContain "<td class=\"pass\">"
        page shouldNotContain "<script"
    }

    "a failing cell: exit 0 (a report), exit 1 with --strict" {
        // one golden case whose expected output is wrong: the reference fails it
        val dir = Files.createTempDirectory("attn-matrix-golden")
        val case = dir.resolve("broken").resolve("test_attention_4d")
        Files.createDirectories(case)
        val source = GoldenDirs.project().resolve("onnx").resolve("test_attention_4d")
        Files.list(source).use { files -> files.forEach { Files.copy(it, case.resolve(it.fileName)) } }
        val out = case.resolve("out.npy")
        val bytes = Files.readAllBytes(out)
        bytes[bytes.size - 1] = (bytes[bytes.size - 1].toInt() xor 0x40).toByte() // an exponent bit of the last element
        Files.write(out, bytes)
        val args = arrayOf("matrix", "--backend", "reference", "--checks", "kernel/basic", "--iterations", "2", "--golden", dir.toString())
        val report = runAttn(*args)
        report.exit shouldBe 0
        report.out shouldContain "| golden/broken | FAIL 1 (0 pass); first: test_attention_4d:"
        report.err shouldContain "1 failing cell(s)"
        runAttn(*args, "--strict").exit shouldBe 1
    }

    "an unknown backend or a bad --iterations is bad input (exit 2)" {
        runAttn("matrix", "--backend", "nope").exit shouldBe 2
        runAttn("matrix", "--iterations", "0").exit shouldBe 2
    }
})
