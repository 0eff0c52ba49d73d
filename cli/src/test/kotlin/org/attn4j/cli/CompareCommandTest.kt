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
        // ... and the dtype axis: GQA-8 with a bf16 cache, MLA with an int8 one.
        rows.map { it[1] } shouldContainExactly listOf("MHA", "MQA", "GQA-8", "MLA", "GQA-8 bf16 KV", "MLA int8 KV")
        rows.map { it[0] }.takeLast(2) shouldContainExactly listOf("GQA bf16", "MLA int8")
        // bf16: 2·8·128 elements · 2 B = 4,096 B per token and layer; int8 MLA: 576 B + one 4-byte scale = 580 B.
        rows[4][5] shouldBe "4,096"
        rows[5][5] shouldBe "580"
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
        val all = table(run.out, "config", after = "Decode,")
        all.map { it[0] to it[1] } shouldContainExactly listOf("MHA" to "cpu", "MQA" to "cpu", "GQA" to "cpu", "MLA" to "cpu",
            "GQA bf16" to "cpu", "MLA int8" to "cpu")
        // float32 K and V over 96 tokens: 4 B · kvHeads · 96 · (128 + 128); MLA reads its latent 4 B · 96 · (512 + 64);
        // bf16 GQA-8: 2 B · 8 · 96 · 256; int8 MLA: 96 · (576 + 4)
        all.map { it[6] } shouldContainExactly listOf("3.15 MB", "98.3 kB", "786 kB", "221 kB", "393 kB", "55.7 kB")
        val rows = all.filter { it[2] != "-" }   // a backend that does not read a dtype leaves its row untimed (see the notes)
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
        prefill.map { it[0] } shouldContainExactly listOf("MHA", "MQA", "GQA", "MLA", "GQA bf16", "MLA int8")
        for (r in prefill.take(4)) r[2].replace(",", "").toDouble() // prefill ms is a number
        val errors = table(run.out, "config", after = "Error against")
        for (r in errors.filter { it[0] in listOf("MHA", "MQA", "GQA", "MLA") }) r[2] shouldContain " ok"
        // A reduced cache's row: the backend's error against the float values (so the rounding shows) is judged against the
        // reference of the stored values; unless cpu reads the type, it is not run, and the notes say why.
        for (r in errors.filter { it[0] in listOf("GQA bf16", "MLA int8") && it[1] == "cpu" }) {
            (r[2].endsWith(" ok") || r[2] == "not run") shouldBe true
            if (r[2] == "not run") run.out shouldContain "${r[0]} error on cpu not measured: "
        }
        // ... and the rounding alone, the float64 reference on stored vs float values: bf16 ~ 2^-9, int8 ~ 1/254 of |v|.
        val rounding = errors.filter { it[1].endsWith("rounding, reference)") }.associate { it[0] to it[2].toDouble() }
        rounding.keys shouldBe setOf("GQA bf16", "MLA int8")
        for (e in rounding.values) (e > 1e-5 && e < 0.05) shouldBe true
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
        html shouldContain "GQA bf16"
        html shouldContain "MLA int8 KV"
        html shouldContain "int8 rounding, reference"
    }

    "--kv-dtypes chooses the dtype rows: every config, one config by label or name, or none; a bad item is exit 2" {
        fun variants(vararg args: String) = attn("compare", "--no-measure", *args).let { r -> r.status shouldBe 0; table(r.out, "config").map { it[1] } }
        variants("--kv-dtypes", "none") shouldContainExactly listOf("MHA", "MQA", "GQA-8", "MLA")
        variants("--kv-dtypes", "f16") shouldContainExactly listOf("MHA", "MQA", "GQA-8", "MLA", "MHA f16 KV", "MQA f16 KV", "GQA-8 f16 KV", "MLA f16 KV")
        variants("--kv-dtypes", "mqa:int8, MLA:bf16") shouldContainExactly listOf("MHA", "MQA", "GQA-8", "MLA", "MQA int8 KV", "MLA bf16 KV")
        val bad = attn("compare", "--no-measure", "--kv-dtypes", "GQA-8:fp4")
        bad.status shouldBe Attn.EXIT_BAD_INPUT
        bad.err shouldContain "--kv-dtypes: expected f32, f16, bf16 or int8"
        attn("compare", "--no-measure", "--kv-dtypes", "XQA:bf16").err shouldContain "'XQA' names no config"
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
