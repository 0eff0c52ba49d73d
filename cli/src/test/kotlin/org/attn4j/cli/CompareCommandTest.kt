package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.api.LayerVariant
import org.attn4j.reference.cost.CostConfig
import org.attn4j.reference.cost.CostModel
import org.attn4j.reference.cost.MlaDims
import java.io.PrintWriter
import java.io.StringWriter
import java.nio.file.Files
import java.nio.file.Path
import java.util.Locale

private data class CompareRun(val status: Int, val out: String, val err: String)

private fun attn(vararg args: String): CompareRun {
    val out = StringWriter()
    val err = StringWriter()
    val cl = Attn.commandLine()
    cl.setOut(PrintWriter(out))
    cl.setErr(PrintWriter(err))
    val status = cl.execute(*args)
    return CompareRun(status, out.toString(), err.toString())
}

/** The rows of the first text table after the line starting with [after] (default: the top), split on runs of 2+ spaces. */
private fun table(out: String, firstColumn: String, after: String = ""): List<List<String>> {
    val lines = out.lines().let { l -> l.drop(l.indexOfFirst { it.startsWith(after) }.coerceAtLeast(0)) }
    val header = lines.indexOfFirst { it.startsWith("$firstColumn  ") }
    require(header >= 0) { "no table starting with '$firstColumn' after '$after' in:\n$out" }
    return lines.drop(header + 2).takeWhile { it.isNotBlank() && !it.startsWith("FLAG") }.map { it.trim().split(Regex("\\s{2,}")) }
}

private fun count(n: Long) = String.format(Locale.ROOT, "%,d", n)

/** `attn compare` end to end, in-process, on small measurement shapes so the test stays quick. */
class CompareCommandTest : StringSpec({
    val dir = Files.createTempDirectory("attn-compare")
    val reportFile = dir.resolve("report.html")
    val run = attn("compare", "--prefill-len", "48", "--decode-kv", "96", "--reps", "2", "--budget", "30", "--backend", "cpu",
        "--report", reportFile.toString())

    "the default comparison has MHA, MQA, GQA and MLA with the cost model's numbers" {
        run.status shouldBe 0
        val rows = table(run.out, "config")
        rows.map { it[1] } shouldContainExactly listOf("MHA", "MQA", "GQA-8", "MLA")
        // The representative size, stated independently here: hidden 4096, 32 heads of 128, GQA with 8 KV heads,
        // MLA with DeepSeek-V2's latents on 32 heads; bf16 cache, 32 layers, context 32768.
        val config = CostConfig("representative", 4096, 32, 128, 8, false, MlaDims(1536, 512, 128, 64, 128), 2, 32, 32768, "")
        val expected = CostModel.report(config).variants()
        for ((row, cost) in rows.zip(expected)) {
            row[1] shouldBe cost.label()
            row[3] shouldBe count(cost.params())
            row[4] shouldBe String.format(Locale.ROOT, "%.4f", cost.paramsVsMha())
            row[5] shouldBe count(cost.kvBytesPerToken())
            row[6] shouldBe String.format(Locale.ROOT, "%.4f", cost.kvVsMha())
        }
        // Hand-worked: MHA caches 2·32·128 elements · 2 B = 16,384 B per token per layer; · 32 layers · 32768 tokens = 16 GiB.
        rows[0][5] shouldBe "16,384"
        expected[0].kvBytesTotal() shouldBe (16L shl 30)
        rows[0][9] shouldBe "16.0 GiB"
        rows[0][4] shouldBe "1.0000"
    }

    "decode rows show the KV bytes each step reads and the speed-up over MHA measured in the same run" {
        val rows = table(run.out, "config", after = "Decode,")
        rows.map { it[0] to it[1] } shouldContainExactly listOf("MHA" to "cpu", "MQA" to "cpu", "GQA" to "cpu", "MLA" to "cpu")
        // float32 K and V over 96 tokens: 4 B · kvHeads · 96 · (128 + 128); MLA reads its latent 4 B · 96 · (512 + 64)
        rows.map { it[6] } shouldContainExactly listOf("3.15 MB", "98.3 kB", "786 kB", "221 kB")
        rows[0][8] shouldBe "1.00x"
        for (r in rows) {
            val ms = r[2].replace(",", "").toDouble()
            val (lo, hi) = r[3].replace(",", "").split("-").map { it.toDouble() }
            (lo <= ms && ms <= hi) shouldBe true
            (r[4].toInt() >= 1) shouldBe true // calls
            val speedUp = r[8].removeSuffix("x").toDouble()
            val mhaMs = rows[0][2].replace(",", "").toDouble()
            speedUp shouldBe (mhaMs / ms plusOrMinus 0.02 * speedUp + 0.01) // printed figures have 3 significant digits
            (r[9] == "ok" || r[9].startsWith("FLAG: slower than")) shouldBe true
        }
    }

    "prefill is measured on cpu for each variant, and every error is within FORMAT's tolerance" {
        val prefill = table(run.out, "config", after = "Prefill,")
        prefill.map { it[0] } shouldContainExactly listOf("MHA", "MQA", "GQA", "MLA")
        for (r in prefill) r[2].replace(",", "").toDouble() // prefill ms is a number
        val errors = table(run.out, "config", after = "Error against")
        for (r in errors) r[2] shouldContain " ok"
        run.out shouldContain "MHA: prefill B=1 L=48, 32/32 heads, d=128, causal"
        run.out shouldContain "MLA: decode B=1 1 query against a latent cache of 96 tokens, absorbed path"
        run.out shouldContain "backend reference not measured"
    }

    "--report writes a self-contained HTML page with four charts" {
        run.out shouldContain "Report: "
        val html = Files.readString(reportFile)
        Regex("<svg\\b").findAll(html).count() shouldBe 4
        html shouldNotContain "http://"
        html shouldNotContain "https://"
        html shouldNotContain "<script"
        html shouldNotContain "<link"
        html shouldContain "16.0 GiB"
        html shouldContain "KV read/step"
        html shouldContain "3.15 MB"
        html shouldContain "vs MHA"
    }

    "--config compares the models a script declares, without measuring when told so" {
        val r = attn("compare", "--config", examples().resolve("gqa.attn.kts").toString(), "--no-measure")
        r.status shouldBe 0
        val rows = table(r.out, "config")
        rows.map { it[0] to it[1] } shouldContainExactly listOf("MHA-32" to "MHA", "GQA-8" to "GQA-8")
        val cost = CostModel.cost(CostConfig("x", 4096, 32, 128, 8, false, null, 2, 32, 32768, ""), LayerVariant.GQA)
        rows[1][3] shouldBe count(cost.params())
        r.out shouldNotContain "Decode,"
    }

    "a script that does not compile is reported as file:line: message, exit 2" {
        val bad = dir.resolve("bad.attn.kts")
        Files.writeString(bad, "val m = model(\"x\") { hidden(64); layers(1); mha { heads(8) } }\nval oops: Int = \"text\"\n")
        val r = attn("compare", "--config", bad.toString())
        r.status shouldBe Attn.EXIT_BAD_INPUT
        r.err shouldStartWith "$bad:2: "
        r.err shouldNotContain "\tat "
    }

    "an unknown backend is bad input naming the known ones" {
        val r = attn("compare", "--no-measure", "--backend", "nope")
        r.status shouldBe Attn.EXIT_BAD_INPUT
        r.err shouldContain "backend: expected one of"
        r.err shouldContain "'nope'"
    }

    "--help lists the options" {
        val r = attn("compare", "--help")
        r.status shouldBe 0
        for (o in listOf("--config", "--report", "--context", "--backend", "--prefill-len", "--decode-kv", "--reps", "--budget", "--threads")) r.out shouldContain o
    }

    "a KV cache too large for a 64-bit byte count is one line, exit 2, not an ArithmeticException" {
        val r = runAttn("compare", "--context", "2147483647", "--layers", "2147483647", "--no-measure")
        r.exit shouldBe Attn.EXIT_BAD_INPUT
        r.err.trim().lines().size shouldBe 1
        r.err shouldStartWith "attn compare: --context 2147483647 and 2147483647 layers: the KV cache of one sequence of MHA does not fit"
        r.err shouldNotContain "?"
        r.err shouldNotContain "Exception"
        r.out shouldBe ""
    }

    "--report naming an existing directory is one line naming it, exit 2, before anything is measured" {
        val r = runAttn("compare", "--report", dir.toString(), "--backend", "cpu")
        r.exit shouldBe Attn.EXIT_BAD_INPUT
        r.err.trim() shouldBe "attn compare: --report $dir: is a directory; give a file name such as ${dir.resolve("compare.html")}"
        r.out shouldBe ""
    }

    "--report under a regular file is one line naming the file in the way, exit 2" {
        val file = dir.resolve("plain.txt")
        Files.writeString(file, "not a directory")
        val target = file.resolve("sub").resolve("r.html")
        val r = runAttn("compare", "--report", target.toString(), "--no-measure")
        r.exit shouldBe Attn.EXIT_BAD_INPUT
        r.err.trim() shouldBe "attn compare: --report $target: cannot be created: $file is a file, not a directory"
        r.err shouldNotContain "Exception"
    }

    "bad timing options name the option" {
        runAttn("compare", "--no-measure", "--reps", "0").err.trim() shouldBe "attn compare: --reps: expected >= 1, got 0"
        runAttn("compare", "--no-measure", "--budget", "0").err.trim() shouldBe "attn compare: --budget: expected a number of seconds > 0, got 0.0"
        runAttn("compare", "--no-measure", "--decode-kv", "0").exit shouldBe Attn.EXIT_BAD_INPUT
    }
})

/** The repository's examples folder (tests run in cli/). */
internal fun examples(): Path = Path.of(System.getProperty("attn4j.examples", "../examples")).toAbsolutePath().normalize()
