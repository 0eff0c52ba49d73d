package org.attn4j.conformance.golden

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import java.nio.file.Files
import java.nio.file.Path

/** GoldenRunner.discover and symbolic links: a linked case folder is found, a link loop ends, nothing is listed twice. */
class GoldenDiscoveryTest : FunSpec({
    val golden = Fixtures.goldenDir.resolve("cases/seed003-gqa-kernel-mask")
    val made = ArrayList<Path>()

    /**
     * A temporary folder removed after the spec WITHOUT following links: a recursive delete that follows them (Kotest's
     * tempdir does) would empty the folders they point to.
     */
    fun tempFolder(): Path = Files.createTempDirectory("attn4j-discover").toRealPath().also { made.add(it) }
    afterSpec {
        for (root in made) Files.walk(root).use { s -> s.sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) } }
    }

    /** A private copy of a golden case to link to. */
    val kernelCase: Path by lazy {
        val dir = Files.createDirectories(tempFolder().resolve("the-case"))
        Files.list(golden).use { files -> files.forEach { Files.copy(it, dir.resolve(it.fileName)) } }
        dir
    }

    test("a symlinked case folder is found") {
        val root = tempFolder()
        Files.createSymbolicLink(root.resolve("linked"), kernelCase)
        GoldenRunner.discover(listOf(root)) shouldContainExactly listOf(root.resolve("linked"))
    }

    test("a symlinked folder of cases is walked; a link loop is not followed twice and the walk ends") {
        val root = tempFolder()
        val suite = Files.createDirectories(root.resolve("suite"))
        Files.createSymbolicLink(suite.resolve("a-case"), kernelCase)
        Files.createSymbolicLink(suite.resolve("loop"), suite)   // suite/loop -> suite
        val top = Files.createDirectories(root.resolve("top"))
        Files.createSymbolicLink(top.resolve("suite-link"), suite)
        GoldenRunner.discover(listOf(top)) shouldContainExactly listOf(top.resolve("suite-link/a-case"))
    }

    test("a case reached by two paths is listed once, under the first in sorted order") {
        val root = tempFolder()
        val real = Files.createDirectories(root.resolve("b-real"))
        Files.list(kernelCase).use { files -> files.forEach { Files.copy(it, real.resolve(it.fileName)) } }
        Files.createSymbolicLink(root.resolve("a-link"), real)
        GoldenRunner.discover(listOf(root)) shouldContainExactly listOf(root.resolve("a-link"))
    }
})
