package org.attn4j.cli

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import java.io.File
import java.io.PrintWriter
import java.io.StringWriter
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO

/**
 * Opens the `attn compare --report` page in headless Chromium: the charts must be in the rendered DOM as non-empty
 * `<svg>` elements, the page must log no console message, and a screenshot (kept in `cli/target/`) must show
 * something. Needs Chromium (`apt-get install -y chromium`; `./run-tests` installs it). Without it the spec is
 * skipped with the reason on stderr, unless `ATTN4J_REQUIRE` names `browser` (set by `./run-tests` whenever
 * Chromium is installed) or `CI=true`: then it fails, so a run that should check the page cannot pass without it.
 */
class ReportBrowserTest : StringSpec({
    val browserRequired = System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').contains("browser") ||
        System.getenv("CI").equals("true", ignoreCase = true)
    val installed = listOf("chromium", "chromium-browser", "google-chrome")
        .any { name -> System.getenv("PATH").orEmpty().split(File.pathSeparator).any { File(it, name).canExecute() } }
    if (!installed && !browserRequired) {
        System.err.println("cli: chromium is not installed, SKIPPING the browser check of the HTML report " +
            "(apt-get install -y chromium, or run ./run-tests)")
    }
    defaultTestConfig = io.kotest.core.test.config.DefaultTestConfig(enabledIf = { installed || browserRequired })

    val target = Path.of("target").toAbsolutePath()
    Files.createDirectories(target)
    val report = target.resolve("compare-report.html")
    val screenshot = target.resolve("compare-report.png")

    data class Browser(val exit: Int, val stdout: String, val log: String)

    fun chromium(): String = listOf("chromium", "chromium-browser", "google-chrome")
        .firstOrNull { name -> System.getenv("PATH").orEmpty().split(File.pathSeparator).any { File(it, name).canExecute() } }
        ?: error("chromium is not installed (needed to check the HTML report): apt-get install -y chromium")

    /** Runs headless Chromium on [page] with a fresh profile; stdout and the stderr log are returned. */
    fun browse(page: Path, vararg extra: String): Browser {
        val profile = Files.createTempDirectory("attn-chromium")
        val logFile = Files.createTempFile("attn-chromium", ".log")
        val outFile = Files.createTempFile("attn-chromium", ".out")
        val command = listOf(chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--user-data-dir=$profile", "--enable-logging=stderr", "--v=0") + extra + page.toUri().toString()
        val p = ProcessBuilder(command).redirectOutput(outFile.toFile()).redirectError(logFile.toFile()).start()
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly()
            error("chromium did not finish within 180 s: $command")
        }
        return Browser(p.exitValue(), Files.readString(outFile), Files.readString(logFile))
    }

    fun consoleLines(log: String) = log.lines().filter { it.contains(":CONSOLE") || it.contains("Uncaught") }

    val out = StringWriter()
    val err = StringWriter()
    val status = Attn.commandLine().also { it.setOut(PrintWriter(out)); it.setErr(PrintWriter(err)) }
        .execute("compare", "--prefill-len", "32", "--decode-kv", "64", "--reps", "1", "--backend", "cpu", "--report", report.toString())

    "the report is written" {
        withClue(err) { status shouldBe 0 }
        Files.exists(report) shouldBe true
    }

    "the console check can see console messages (control page)" {
        val control = Files.createTempFile("attn-control", ".html")
        Files.writeString(control, "<!DOCTYPE html><html><body><script>console.error('attn4j-control')</script></body></html>")
        val b = browse(control, "--dump-dom")
        b.exit shouldBe 0
        consoleLines(b.log).joinToString("\n") shouldContain "attn4j-control"
    }

    "Chromium renders the four charts as non-empty SVG, with no console message" {
        val b = browse(report, "--dump-dom")
        b.exit shouldBe 0
        val svgs = Regex("<svg\\b([^>]*)>(.*?)</svg>", RegexOption.DOT_MATCHES_ALL).findAll(b.stdout).toList()
        svgs.map { Regex("aria-label=\"([^\"]*)\"").find(it.groupValues[1])?.groupValues?.get(1) } shouldBe listOf(
            "KV cache of one sequence vs context length", "Prefill speed (attention kernel, float32)",
            "Decode speed over 64 cached tokens (attention kernel, float32)",
            "Max |error| vs the float64 reference (tolerance 1e-5 + 1e-4·|ref|)")
        for (svg in svgs.map { it.groupValues[2] }) {
            // XChart draws text as glyph outlines: a drawn chart has many paths (axes, labels, series) and a plot area.
            Regex("<path\\b").findAll(svg).count() shouldBeGreaterThan 20
            svg shouldContain "<rect"
        }
        consoleLines(b.log).shouldBeEmpty()
    }

    "a screenshot shows the page (kept as cli/target/compare-report.png)" {
        Files.deleteIfExists(screenshot)
        val b = browse(report, "--hide-scrollbars", "--window-size=1300,2600", "--screenshot=$screenshot")
        b.exit shouldBe 0
        val image = ImageIO.read(screenshot.toFile()) ?: error("no PNG written at $screenshot")
        image.width shouldBe 1300
        // Charts and tables cover a good part of the page: count pixels that are not (near) white.
        var ink = 0
        for (y in 0 until image.height step 2) for (x in 0 until image.width step 2) {
            val rgb = image.getRGB(x, y)
            val r = rgb shr 16 and 0xff
            val g = rgb shr 8 and 0xff
            val bl = rgb and 0xff
            if (r + g + bl < 600) ink++
        }
        val sampled = (image.width / 2) * (image.height / 2)
        withClue("non-white pixels $ink of $sampled") { (ink * 100L / sampled).toInt() shouldBeGreaterThan 2 }
        consoleLines(b.log).shouldBeEmpty()
    }
})
