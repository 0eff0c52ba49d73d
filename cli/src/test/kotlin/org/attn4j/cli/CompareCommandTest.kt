package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainExactly
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

/** The rows of the text table whose header line starts with [firstColumn], split on runs of 2+ spaces. */
private fun table(out: String, firstColumn: String): List<List<String>> {
    val lines = out.lines()
    val header = lines.indexOfFirst { it.startsWith("$firstColumn  ") }
    require(header >= 0) { "no table starting with '$firstColumn' in:\n$out" }
    return lines.drop(header + 2).takeWhile { it.isNotBlank() }.map { it.trim().split(Regex("\\s{2,}")) }
}

private fun count(n: Long) = String.format(Locale.ROOT, "%,d", n)

/** `attn compare` end to end, in-process, on small measurement shapes so the test stays quick. */
class CompareCommandTest : StringSpec({
    val dir = Files.createTempDirectory("attn-compare")
    val reportFile = dir.resolve("report.html")
    val run = attn("compare", "--prefill-len", "48", "--decode-kv", "96", "--reps", "1", "--backend", "cpu",
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

    "speed and error are measured on cpu for each variant, within FORMAT's tolerance" {
        val rows = table(run.out.substring(run.out.indexOf("Speed and error")), "config")
        rows.map { it[0] to it[1] } shouldContainExactly listOf("MHA" to "cpu", "MQA" to "cpu", "GQA" to "cpu", "MLA" to "cpu")
        for (r in rows) {
            r[2].replace(",", "").toDouble() // prefill ms is a number
            r[5].replace(",", "").toDouble() // decode ms is a number
            r[8] shouldContain " ok"
        }
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
    }

    "--config compares the models a script declares, without measuring when told so" {
        val r = attn("compare", "--config", examples().resolve("gqa.attn.kts").toString(), "--no-measure")
        r.status shouldBe 0
        val rows = table(r.out, "config")
        rows.map { it[0] to it[1] } shouldContainExactly listOf("MHA-32" to "MHA", "GQA-8" to "GQA-8")
        val cost = CostModel.cost(CostConfig("x", 4096, 32, 128, 8, false, null, 2, 32, 32768, ""), LayerVariant.GQA)
        rows[1][3] shouldBe count(cost.params())
        r.out shouldNotContain "Speed and error"
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
        for (o in listOf("--config", "--report", "--context", "--backend", "--prefill-len", "--decode-kv", "--reps")) r.out shouldContain o
    }
})

/** The repository's examples folder (tests run in cli/). */
internal fun examples(): Path = Path.of(System.getProperty("attn4j.examples", "../examples")).toAbsolutePath().normalize()
