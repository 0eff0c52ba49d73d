package org.attn4j.conformance.golden

import java.io.IOException
import java.net.URI
import java.nio.file.FileSystemAlreadyExistsException
import java.nio.file.FileSystemNotFoundException
import java.nio.file.FileSystems
import java.nio.file.Path

/**
 * The golden cases shipped in the `attn4j-golden` jar, under `org/attn4j/golden/` (`cases/`, `onnx/`, `FORMAT.md`).
 *
 * The jar is opened as a zip file system, so the cases are [Path]s and are read by the same hardened readers as
 * cases on disk ([GoldenRunner.discover], [GoldenCase.read]): same size limits, same errors. An unpacked jar (a
 * `target/classes` folder in an IDE or the reactor) is read from the disk directly.
 *
 * ```
 * val dirs = GoldenRunner.discover(listOf(GoldenResources.root()))
 * ```
 */
object GoldenResources {
    /** The resource folder of the cases, inside the jar. */
    const val ROOT = "org/attn4j/golden"

    /**
     * The folder holding the shipped cases (and FORMAT.md), found through [loader]. Fails, naming the missing
     * artifact, when `attn4j-golden` is not on the class path.
     */
    @JvmStatic
    @JvmOverloads
    fun root(loader: ClassLoader = defaultLoader()): Path {
        val marker = loader.getResource("$ROOT/FORMAT.md")
            ?: throw GoldenFormatException(Path.of(ROOT), "not on the class path: add the test dependency " +
                "org.attn4j:attn4j-golden (the golden cases as resources), or read a checkout's golden/ folder")
        return pathOf(marker.toURI()).parent
    }

    /** The case folders shipped in the jar (93 for this version), sorted. */
    @JvmStatic
    fun cases(): List<Path> = GoldenRunner.discover(listOf(root()))

    private fun defaultLoader(): ClassLoader =
        Thread.currentThread().contextClassLoader ?: GoldenResources::class.java.classLoader

    /** A `file:` or `jar:file:...!/...` URI as a path; a jar's file system is opened once and kept for the JVM's life. */
    private fun pathOf(uri: URI): Path {
        if (uri.scheme != "jar") return Path.of(uri)
        synchronized(this) {
            try {
                return Path.of(uri)
            } catch (_: FileSystemNotFoundException) {
                // first use of this jar: open it below
            }
            try {
                FileSystems.newFileSystem(uri, emptyMap<String, Any>())
            } catch (_: FileSystemAlreadyExistsException) {
                // opened by someone else in between: Path.of finds it now
            } catch (e: IOException) {
                throw GoldenFormatException(Path.of(ROOT), "cannot open the jar of $uri: $e", e)
            }
            return Path.of(uri)
        }
    }

    /** Whether the resources are there (for callers that fall back to a checkout's folder). */
    @JvmStatic
    fun present(): Boolean = defaultLoader().getResource("$ROOT/FORMAT.md") != null
}
