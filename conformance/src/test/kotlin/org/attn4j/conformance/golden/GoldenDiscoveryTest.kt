package org.attn4j.conformance.golden

import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.collections.shouldContainExactly
import java.nio.file.Files

/** GoldenRunner.discover and symbolic links: a linked case folder is found, a link loop ends, nothing is listed twice. */
class GoldenDiscoveryTest : FunSpec({
    val kernelCase = Fixtures.goldenDir.resolve("cases/seed003-gqa-kernel-mask").toAbsolutePath().normalize()

    test("a symlinked case folder is found") {
        val root = tempdir().toPath().toRealPath()
        Files.createSymbolicLink(root.resolve("linked"), kernelCase)
        GoldenRunner.discover(listOf(root)) shouldContainExactly listOf(root.resolve("linked"))
    }

    test("a symlinked folder of cases is walked; a link loop is not followed twice and the walk ends") {
        val root = tempdir().toPath().toRealPath()
        val suite = Files.createDirectories(root.resolve("suite"))
        Files.createSymbolicLink(suite.resolve("a-case"), kernelCase)
        Files.createSymbolicLink(suite.resolve("loop"), suite)   // suite/loop -> suite
        val top = Files.createDirectories(root.resolve("top"))
        Files.createSymbolicLink(top.resolve("suite-link"), suite)
        GoldenRunner.discover(listOf(top)) shouldContainExactly listOf(top.resolve("suite-link/a-case"))
    }

    test("a case reached by two paths is listed once, under the first in sorted order") {
        val root = tempdir().toPath().toRealPath()
        val real = Files.createDirectories(root.resolve("b-real"))
        Files.list(kernelCase).use { files -> files.forEach { Files.copy(it, real.resolve(it.fileName)) } }
        Files.createSymbolicLink(root.resolve("a-link"), real)
        GoldenRunner.discover(listOf(root)) shouldContainExactly listOf(root.resolve("a-link"))
    }
})
