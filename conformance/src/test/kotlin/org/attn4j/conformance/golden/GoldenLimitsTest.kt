package org.attn4j.conformance.golden

import io.kotest.assertions.fail
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.api.AttentionException
import java.io.RandomAccessFile
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/** The readers' size limits, regular-file checks and bounded one-line messages (the hardening issue's findings). */
class GoldenLimitsTest : FunSpec({
    val kernelCase = Fixtures.goldenDir.resolve("cases/seed003-gqa-kernel-mask")

    fun copyCase(into: Path): Path {
        val dir = Files.createDirectories(into)
        Files.list(kernelCase).use { files -> files.forEach { Files.copy(it, dir.resolve(it.fileName)) } }
        return dir
    }

    /** Runs [block] on another thread: a reader that blocks (a FIFO) fails the test instead of hanging the build. */
    fun <T> withTimeout(block: () -> T): T {
        val future = CompletableFuture.supplyAsync { runCatching(block) }
        val result = try {
            future.get(20, TimeUnit.SECONDS)
        } catch (e: TimeoutException) {
            fail("the reader did not return within 20 s (blocked?)")
        }
        return result.getOrThrow()
    }

    fun GoldenFormatException.shouldBeOneShortLine(max: Int = 600) {
        message!! shouldNotContain "\n"
        message!! shouldNotContain "\r"
        message!!.length shouldBeLessThan max
    }

    test("a valid case.json over the JSON limit is rejected before it is parsed, naming the property") {
        val dir = copyCase(tempdir().toPath().resolve("big-json"))
        val json = Files.readString(dir.resolve("case.json")).trimEnd()
        // Valid JSON: whitespace before the closing brace, 5 MiB in all (the default limit is 4 MiB).
        Files.writeString(dir.resolve("case.json"), json.dropLast(1) + " ".repeat(5 shl 20) + "}")
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }
        e.message!! shouldContain "case.json"
        e.message!! shouldContain GoldenLimits.MAX_JSON_BYTES_PROPERTY
        e.shouldBeOneShortLine()
        // The same file within a raised limit reads.
        GoldenCase.read(dir, GoldenLimits(maxJsonBytes = 8L shl 20)).name shouldBe "seed003-gqa-kernel-mask"
    }

    test("a sparse .npy whose header claims 6.4 GB is rejected from its header, before any allocation") {
        val dir = tempdir().toPath()
        val header = Fixtures.header("<f4", "(1600000000,)")
        val f = Fixtures.write(dir, "huge.npy", Fixtures.npy(header))
        RandomAccessFile(f.toFile(), "rw").use { it.setLength(Files.size(f) + 6_400_000_000L) } // sparse: holds no blocks
        for (read in listOf({ Npy.read(f) }, { Npy.readHeader(f) })) {
            val e = shouldThrow<GoldenFormatException> { read() }
            e.message!! shouldContain "huge.npy"
            e.message!! shouldContain "6400000000 data bytes"
            e.message!! shouldContain GoldenLimits.MAX_TENSOR_BYTES_PROPERTY
            e.shouldBeOneShortLine()
        }
    }

    test("the tensor limit applies to in-memory bytes and to every tensor of a case") {
        val data = Fixtures.floats(1f, 2f, 3f, 4f)
        val bytes = Fixtures.npy(Fixtures.header("<f4", "(2, 2)"), data)
        Npy.read(bytes, null, GoldenLimits(maxTensorBytes = 16)).shape().toList() shouldContainExactly listOf(2, 2)
        shouldThrow<GoldenFormatException> { Npy.read(bytes, null, GoldenLimits(maxTensorBytes = 15)) }
            .message!! shouldContain "over the limit of 15"
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(kernelCase, GoldenLimits(maxTensorBytes = 64)) }
        e.message!! shouldContain ".npy"
        e.message!! shouldContain "over the limit of 64"
    }

    test("the per-case total counts every .npy file the case reads") {
        val sizes = Files.list(kernelCase).use { s -> s.filter { it.toString().endsWith(".npy") }.mapToLong { Files.size(it) }.sum() }
        GoldenCase.read(kernelCase, GoldenLimits(maxCaseBytes = sizes)).name shouldBe "seed003-gqa-kernel-mask"
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(kernelCase, GoldenLimits(maxCaseBytes = sizes - 1)) }
        e.message!! shouldContain GoldenLimits.MAX_CASE_BYTES_PROPERTY
        e.shouldBeOneShortLine()
    }

    test("the limits come from system properties; a bad property value names the property") {
        val name = GoldenLimits.MAX_TENSOR_BYTES_PROPERTY
        val before = System.getProperty(name)
        try {
            System.setProperty(name, "12")
            GoldenLimits.fromSystemProperties().maxTensorBytes shouldBe 12L
            shouldThrow<GoldenFormatException> { Npy.read(Fixtures.npy(Fixtures.header("<f4", "(4,)"), Fixtures.floats(1f, 2f, 3f, 4f)), null) }
            System.setProperty(name, "lots")
            shouldThrow<AttentionException> { GoldenLimits.fromSystemProperties() }.message!! shouldContain name
        } finally {
            if (before == null) System.clearProperty(name) else System.setProperty(name, before)
        }
        GoldenLimits.fromSystemProperties() shouldBe GoldenLimits()
    }

    test("a FIFO named q.npy or case.json is refused without being opened (opening it would block)") {
        val dir = copyCase(tempdir().toPath().resolve("fifo"))
        Files.delete(dir.resolve("q.npy"))
        val mkfifo = ProcessBuilder("mkfifo", dir.resolve("q.npy").toString()).inheritIO().start()
        mkfifo.waitFor(10, TimeUnit.SECONDS) shouldBe true
        mkfifo.exitValue() shouldBe 0
        val direct = shouldThrow<GoldenFormatException> { withTimeout { Npy.read(dir.resolve("q.npy")) } }
        direct.message!! shouldContain "not a regular file (a FIFO, device or socket)"
        val viaCase = shouldThrow<GoldenFormatException> { withTimeout { GoldenCase.read(dir) } }
        viaCase.message!! shouldContain "q.npy"
        viaCase.message!! shouldContain "not a regular file"

        val jsonFifo = copyCase(tempdir().toPath().resolve("fifo-json"))
        Files.delete(jsonFifo.resolve("case.json"))
        ProcessBuilder("mkfifo", jsonFifo.resolve("case.json").toString()).start().waitFor(10, TimeUnit.SECONDS) shouldBe true
        shouldThrow<GoldenFormatException> { withTimeout { GoldenCase.read(jsonFifo) } }.message!! shouldContain "not a regular file"
    }

    test("a directory named q.npy is refused as not a regular file") {
        val dir = copyCase(tempdir().toPath().resolve("dir-npy"))
        Files.delete(dir.resolve("q.npy"))
        Files.createDirectory(dir.resolve("q.npy"))
        shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }.message!! shouldContain "not a regular file (a directory)"
    }

    test("a million-digit integer in a .npy header is refused by its length, in a short message") {
        val digits = "9".repeat(1_048_000)
        val bytes = Fixtures.npy("{'descr': '<f4', 'fortran_order': False, 'shape': ($digits,), }\n", major = 2)
        val e = shouldThrow<GoldenFormatException> { Npy.read(bytes, Path.of("q.npy")) }
        e.message!! shouldContain "integer of 1048000 digits"
        e.shouldBeOneShortLine()
        // 19 digits still parse (as a long); the shape check then rejects the size.
        shouldThrow<GoldenFormatException> {
            Npy.read(Fixtures.npy(Fixtures.header("<f4", "(1000000000000000000,)")), null)
        }.message!! shouldContain "1000000000000000000"
    }

    test("input text quoted in a message is escaped and cut: one line, whatever the file holds") {
        val descr = "<f4\n\r\u0000" + "x".repeat(10_000)
        val npyError = shouldThrow<GoldenFormatException> {
            Npy.read(Fixtures.npy(Fixtures.padded("{'descr': '$descr', 'fortran_order': False, 'shape': (1,), }", 2), major = 2), null)
        }
        npyError.shouldBeOneShortLine()
        npyError.message!! shouldContain "\\n\\r\\u0000"
        val header = Fixtures.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'bad\nkey" + "k".repeat(5000) + "': 1, }", 2)
        shouldThrow<GoldenFormatException> { Npy.read(Fixtures.npy(header, major = 2), null) }.shouldBeOneShortLine()
        val junk = Fixtures.padded("{'descr': '<f4',\n\n" + "@".repeat(5000) + "}", 2)
        shouldThrow<GoldenFormatException> { Npy.read(Fixtures.npy(junk, major = 2), null) }.shouldBeOneShortLine()

        val dir = copyCase(tempdir().toPath().resolve("text"))
        val json = Files.readString(dir.resolve("case.json"))
        for ((key, value) in listOf("kind" to "ker\nnel" + "l".repeat(5000), "format" to "x\u0007".repeat(3000), "name" to "\n\n\t")) {
            val doc = com.fasterxml.jackson.databind.ObjectMapper().readTree(json) as com.fasterxml.jackson.databind.node.ObjectNode
            doc.put(key, value)
            Files.writeString(dir.resolve("case.json"), doc.toString())
            val e = shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }
            e.message!! shouldContain key
            e.shouldBeOneShortLine()
        }
        val doc = com.fasterxml.jackson.databind.ObjectMapper().readTree(json) as com.fasterxml.jackson.databind.node.ObjectNode
        (doc.get("spec") as com.fasterxml.jackson.databind.node.ObjectNode).put("unknown\n" + "u".repeat(5000), 1)
        Files.writeString(dir.resolve("case.json"), doc.toString())
        shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }.shouldBeOneShortLine()
    }

    test("a NUL character in a file name is a GoldenFormatException (found by ReaderFuzzTest's seed corpus)") {
        val dir = copyCase(tempdir().toPath().resolve("nul"))
        val doc = com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(dir.resolve("case.json")))
            as com.fasterxml.jackson.databind.node.ObjectNode
        (doc.get("inputs") as com.fasterxml.jackson.databind.node.ObjectNode).put("k", "k\u0000.npy")
        Files.writeString(dir.resolve("case.json"), doc.toString())
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }
        e.message!! shouldContain "inputs.k: \"k\\u0000.npy\" is not a valid file name"
        e.shouldBeOneShortLine()
    }

    test("GoldenFormatException keeps its message on one line even for a path with a newline") {
        val e = GoldenFormatException(Path.of("/tmp/a\nb"), "bad\nthing " + "z".repeat(5000))
        e.shouldBeOneShortLine(1400)
        e.problem shouldContain "\n" // the raw problem is kept for callers that re-wrap it
    }
})
