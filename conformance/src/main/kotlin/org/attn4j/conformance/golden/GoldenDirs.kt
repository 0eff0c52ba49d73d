package org.attn4j.conformance.golden

import java.nio.file.Files
import java.nio.file.Path

/** Where the golden cases are, and which backends a run requires. */
object GoldenDirs {
    /**
     * This repository's `golden/`: `-Dattn4j.golden.dir`, else the first `golden/FORMAT.md` found walking up from
     * the working directory (a module's folder when Maven runs its tests), else, outside a checkout, the cases
     * shipped in the `attn4j-golden` jar ([GoldenResources.root]).
     */
    @JvmStatic
    fun project(): Path = project(Path.of(""))

    /** [project], walking up from [start] (tests use it to be outside any checkout). */
    internal fun project(start: Path): Path {
        System.getProperty("attn4j.golden.dir")?.takeIf { it.isNotBlank() }?.let { return Path.of(it) }
        var d: Path? = start.toAbsolutePath()
        while (d != null) {
            val g = d.resolve("golden")
            if (Files.isRegularFile(g.resolve("FORMAT.md"))) return g
            d = d.parent
        }
        if (GoldenResources.present()) return GoldenResources.root()
        throw IllegalStateException("golden/FORMAT.md not found above ${start.toAbsolutePath()}, and attn4j-golden is not " +
            "on the class path; set -Dattn4j.golden.dir")
    }

    /** Whether `ATTN4J_REQUIRE` (comma-separated backend names, set by `./run-tests`) names [backend]. */
    @JvmStatic
    fun requiredHere(backend: String): Boolean =
        System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').map { it.trim() }.contains(backend)
}
