package org.attn4j.conformance

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionProblem
import org.attn4j.api.Feature
import org.attn4j.api.LayerConfig
import org.attn4j.api.Support
import org.attn4j.conformance.golden.GoldenDirs
import org.attn4j.conformance.golden.GoldenFormatException
import org.attn4j.conformance.golden.GoldenResources
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.broken.BrokenBackend
import org.attn4j.conformance.tck.broken.Bug
import org.attn4j.reference.ReferenceBackend
import org.junit.jupiter.api.DynamicTest
import org.opentest4j.TestAbortedException
import java.net.URLClassLoader
import java.nio.file.Files
import java.nio.file.Path
import java.util.Optional
import java.util.jar.JarOutputStream
import java.util.zip.ZipEntry
import kotlin.io.path.isRegularFile
import kotlin.io.path.readText
import kotlin.io.path.relativeTo

/** AttnTck / AttnGolden / TckConfig.builder as a JUnit 5 user sees them: dynamic tests run one by one. */
class JavaEntryPointsTest : FunSpec({
    /** Runs a dynamic test as JUnit would: null when it passed, else what it threw. */
    fun execute(t: DynamicTest): Throwable? = try {
        t.executable.execute(); null
    } catch (e: Throwable) {
        e
    }

    class Picky : AttentionBackend by ReferenceBackend() {
        override fun name() = "picky"
        override fun support(problem: AttentionProblem): Support =
            if (Feature.SINKS in problem.features()) Support.no("SINKS: not implemented by picky") else Support.ok()
        override fun supportLayer(config: LayerConfig): Support = Support.no("layers: not implemented by picky")
    }

    class Gone : AttentionBackend by ReferenceBackend() {
        override fun name() = "gone"
        override fun unavailableReason(): Optional<String> = Optional.of("no device")
    }

    test("TckConfig.builder sets each field, keeps the defaults otherwise, and validates") {
        val c = TckConfig.builder().seed(7).iterations(3).checks("kernel/basic", "layer/").maxCost(1000)
            .reportFile(null).build()
        c shouldBe TckConfig(seed = 7, iterations = 3, checks = listOf("kernel/basic", "layer/"), maxCost = 1000, reportFile = null)
        c.toBuilder().iterations(5).build() shouldBe c.copy(iterations = 5)
        shouldThrow<IllegalArgumentException> { TckConfig.builder().iterations(0).build() }.message shouldContain "iterations"
    }

    test("one dynamic test per check: passes, declines as aborted with the reason, and the report is written") {
        val report = Files.createTempDirectory("tck").resolve("sub/tck-report.md")
        val config = TckConfig.builder().iterations(4).checks("kernel/basic", "kernel/sinks", "layer/standard")
            .reportFile(report).build()
        val tests = AttnTck.forBackend(Picky()).config(config).dynamicTests().toList()
        tests.map { it.displayName } shouldBe listOf("picky: kernel/basic", "picky: kernel/sinks", "picky: layer/standard")
        execute(tests[0]) shouldBe null
        report.isRegularFile() shouldBe true // written after the first check already
        val declined = execute(tests[1])
        declined.shouldBeInstanceOf<TestAbortedException>()
        declined.message shouldContain "SINKS: not implemented by picky"
        execute(tests[2]).shouldBeInstanceOf<TestAbortedException>().message shouldContain "layers: not implemented by picky"
        report.readText() shouldContain "| kernel/sinks | skipped: SINKS: not implemented by picky |"
    }

    test("a failing check fails its test with the shrunk case and the replay line, and the report has it") {
        val report = Files.createTempDirectory("tck").resolve("tck-report.md")
        val config = TckConfig.builder().iterations(20).checks("kernel/causal-top-left").reportFile(report).build()
        val tests = AttnTck.forBackend(BrokenBackend(Bug.CAUSAL_DIAGONAL_OFF_BY_ONE)).config(config).dynamicTests().toList()
        tests shouldHaveSize 1
        val failure = execute(tests[0])
        failure.shouldBeInstanceOf<AssertionError>()
        failure.message shouldContain "shrunk case:"
        failure.message shouldContain "replay:      -Dattn4j.tck.seed=${config.seed} -Dattn4j.tck.checks=kernel/causal-top-left"
        report.readText() shouldContain "## Failures"
    }

    test("an unavailable backend: every check is an aborted test naming the reason") {
        val config = TckConfig.builder().checks("kernel/basic", "kernel/sinks").reportFile(null).build()
        val tests = AttnTck.forBackend(Gone()).config(config).dynamicTests().toList()
        tests shouldHaveSize 2
        tests.forEach { execute(it).shouldBeInstanceOf<TestAbortedException>().message shouldContain "no device" }
    }

    test("null arguments are AttentionExceptions naming the argument") {
        shouldThrow<AttentionException> { AttnTck.forBackend(null) }.message shouldContain "backend"
        shouldThrow<AttentionException> { AttnTck.forBackend(Picky()).config(null) }.message shouldContain "config"
        shouldThrow<AttentionException> { AttnGolden.dynamicTests(Picky(), emptyList()) }.message shouldContain "paths"
    }

    test("the golden cases on the class path (attn4j-golden) are the repository's golden/ folder") {
        val fromJar = GoldenResources.cases()
        val fromDisk = GoldenRunner.discover(listOf(GoldenDirs.project()))
        fromJar shouldHaveSize fromDisk.size
        fromJar.map { it.fileName.toString() } shouldBe fromDisk.map { it.fileName.toString() }
    }

    test("golden cases are read from inside a jar, with the file reader's checks") {
        // A jar holding FORMAT.md and two cases copied from golden/, as attn4j-golden holds them all.
        val golden = GoldenDirs.project()
        val picked = listOf("cases/seed003-mha-keypad", "onnx/test_attention_3d_causal")
        val jar = Files.createTempDirectory("golden-jar").resolve("g.jar")
        JarOutputStream(Files.newOutputStream(jar)).use { out ->
            fun put(file: Path, name: String) {
                out.putNextEntry(ZipEntry(name)); Files.copy(file, out); out.closeEntry()
            }
            put(golden.resolve("FORMAT.md"), "${GoldenResources.ROOT}/FORMAT.md")
            for (p in picked) Files.list(golden.resolve(p)).use { files ->
                files.forEach { put(it, "${GoldenResources.ROOT}/${it.relativeTo(golden).joinToString("/")}") }
            }
        }
        URLClassLoader(arrayOf(jar.toUri().toURL()), null).use { loader ->
            val root = GoldenResources.root(loader)
            root.fileSystem.provider().scheme shouldBe "jar"
            val cases = GoldenRunner.discover(listOf(root))
            cases.map { "${it.parent.fileName}/${it.fileName}" } shouldBe picked
            val tests = AttnGolden.dynamicTests(ReferenceBackend(), listOf(root)).toList()
            tests.map { it.displayName }.last() shouldBe "reference ran cases, not only declined them"
            tests.forEach { execute(it) shouldBe null }
            // the same limits as on disk: a case.json over maxJsonBytes is an unreadable case, naming the limit
            System.setProperty("attn4j.golden.maxJsonBytes", "10")
            try {
                val r = GoldenRunner.run(cases[0], ReferenceBackend())
                r.status.name shouldBe "ERROR"
                r.message shouldContain "over the limit of 10"
            } finally {
                System.clearProperty("attn4j.golden.maxJsonBytes")
            }
        }
    }

    test("a backend that declines every golden case: each is aborted with its reason and the last test fails") {
        val all = AttnGolden.dynamicTests(Picky(), listOf(GoldenDirs.project().resolve("cases"))).toList()
        val layerCase = all.first { it.displayName.contains("seed003-mha-keypad") }
        execute(layerCase).shouldBeInstanceOf<TestAbortedException>().message shouldContain "layers: not implemented by picky"
        class DeclinesAll : AttentionBackend by ReferenceBackend() {
            override fun name() = "nothing"
            override fun support(problem: AttentionProblem): Support = Support.no("declines everything")
            override fun supportLayer(config: LayerConfig): Support = Support.no("declines everything")
        }
        val tests = AttnGolden.dynamicTests(DeclinesAll(), listOf(GoldenDirs.project().resolve("cases"))).toList()
        tests.dropLast(1).forEach { execute(it).shouldBeInstanceOf<TestAbortedException>() }
        execute(tests.last()).shouldBeInstanceOf<AssertionError>().message shouldContain "declined all 7 golden cases"
    }

    test("outside a checkout, the project's golden folder is the one in attn4j-golden") {
        val outside = Files.createTempDirectory("not-a-checkout")
        GoldenDirs.project(outside) shouldBe GoldenResources.root()
        GoldenRunner.discover(listOf(GoldenDirs.project(outside))) shouldHaveSize GoldenResources.cases().size
    }

    test("without attn4j-golden on the class path the error names the artifact") {
        URLClassLoader(arrayOf(), null).use { empty ->
            shouldThrow<GoldenFormatException> { GoldenResources.root(empty) }.message shouldStartWith "org/attn4j/golden: not on the class path"
        }
    }
})
