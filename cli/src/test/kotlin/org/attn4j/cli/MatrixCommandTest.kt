package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
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

    "an unknown backend or a bad --iterations is bad input (exit 2)" {
        runAttn("matrix", "--backend", "nope").exit shouldBe 2
        runAttn("matrix", "--iterations", "0").exit shouldBe 2
    }
})
