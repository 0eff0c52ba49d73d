package org.attn4j.conformance.golden

import java.nio.file.Files
import java.nio.file.Path

/** Where the golden cases are, and which backends a run requires. */
object GoldenDirs {
    /**
     * This repository's `golden/`: `-Dattn4j.golden.dir`, else the first `golden/FORMAT.md` found walking up from
     * the working directory (a module's folder when Maven runs its tests).
     */
    @JvmStatic
    fun project(): Path {
        System.getProperty("attn4j.golden.dir")?.takeIf { it.isNotBlank() }?.let { return Path.of(it) }
        var d: Path? = Path.of("").toAbsolutePath()
        while (d != null) {
            val g = d.resolve("golden")
            if (Files.isRegularFile(g.resolve("FORMAT.md"))) return g
            d = d.parent
        }
        throw IllegalStateException("golden/FORMAT.md not found above ${Path.of("").toAbsolutePath()}; set -Dattn4j.golden.dir")
    }

    /** Whether `ATTN4J_REQUIRE` (comma-separated backend names, set by `./run-tests`) names [backend]. */
    @JvmStatic
    fun requiredHere(backend: String): Boolean =
        System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').map { it.trim() }.contains(backend)
}
