package org.attn4j.kernels.gpu.mutation

import io.kotest.core.spec.style.FunSpec
import java.nio.file.Files
import java.nio.file.Path
import java.util.Locale
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.hours

/**
 * Mutation testing of `attention.cl` (attn4j issue #16): every mutant of [ClMutator] is run by [ClMutantWorker] in
 * its own JVM with a time budget, and the results go to `target/cl-mutation/` (`report.md`, `results.csv`).
 * Not part of the default test run (the class name does not end in `Test`); run it with
 * `mvn -B -Pcl-mutation -pl kernels-gpu -am verify -DskipTests`.
 *
 * System properties: `attn4j.clmutation.iterations` (TCK cases per kernel check, default [DEFAULT_ITERATIONS]),
 * `attn4j.clmutation.filter` (comma-separated substrings of mutant ids, e.g. `BARRIER,REL:1`),
 * `attn4j.clmutation.max` (run at most N mutants), `attn4j.clmutation.workers` (mutants run at a time, default 2),
 * `attn4j.clmutation.timeoutSeconds` (per mutant; default ten times the unmutated source's time, at least 300 s).
 * A mutant's outcome: `KILLED` (a TCK check or golden case failed: the first one is recorded), `TIMEOUT`, `CRASH`
 * (the JVM died, e.g. an out-of-bounds access inside PoCL), both counted as killed; `COMPILE_ERROR` (not counted);
 * `SURVIVED`.
 *
 * The run fails when the unmutated source does not pass (the harness would be broken), and, on a full run, when a
 * survivor is not explained in `cl-mutation-survivors.md` or the score is below 90 %.
 */
class ClMutationRun : FunSpec({
    // the whole run is one test: Kotest's default timeout would cut it short
    test("mutants of attention.cl are killed by the TCK and the golden cases").config(timeout = 4.hours) {
        val outDir = Path.of("target", "cl-mutation").toAbsolutePath()
        Files.createDirectories(outDir.resolve("mutants"))
        Files.createDirectories(outDir.resolve("logs"))
        val source = ClMutationRun::class.java.getResource("/org/attn4j/kernels/gpu/attention.cl")!!.readText()
        val iterations = prop("iterations")?.toInt() ?: DEFAULT_ITERATIONS
        val filters = prop("filter")?.split(',')?.map { it.trim() }?.filter { it.isNotEmpty() } ?: emptyList()
        val all = ClMutator.mutants(source)
        val selected = all.filter { m -> filters.isEmpty() || filters.any { m.id.contains(it) } }
            .let { l -> prop("max")?.toInt()?.let { l.take(it) } ?: l }
        val full = selected.size == all.size
        val survivorsFile = Path.of("cl-mutation-survivors.md")
        val explained = explainedSurvivors(survivorsFile)

        log("attention.cl: ${all.size} mutants, running ${selected.size}, $iterations TCK cases per kernel check")
        val baseline = runWorker(outDir, "baseline", source, iterations, TimeUnit.MINUTES.toSeconds(30))
        log("baseline (unmutated): ${baseline.status} in ${"%.1f".format(Locale.ROOT, baseline.seconds)} s: ${baseline.message}")
        check(baseline.status == "SURVIVED") { "the unmutated attention.cl must pass the TCK and the golden cases: $baseline" }
        // A backstop only: a hung kernel fails its TCK case after the worker's case timeout. On a loaded machine
        // (the first full run: load 19 on 2 cores) a 60 s budget killed equivalent mutants by "timeout".
        val timeout = prop("timeoutSeconds")?.toLong() ?: maxOf(300L, (10 * baseline.seconds).toLong())

        // Each worker JVM spends most of its time in PoCL's (single-threaded) kernel compiler: two at a time use both cores.
        val workers = prop("workers")?.toInt() ?: 2
        val pool = Executors.newFixedThreadPool(workers)
        val done = AtomicInteger()
        val futures = selected.map { m ->
            pool.submit<Outcome> {
                runWorker(outDir, m.id, m.apply(source), iterations, timeout).also { o ->
                    log("[${done.incrementAndGet()}/${selected.size}] ${m.id} ${o.status} ${o.check} (${"%.1f".format(Locale.ROOT, o.seconds)} s)")
                }
            }
        }
        val results = selected.zip(futures.map { it.get() })
        pool.shutdown()
        val report = Report(results, explained, iterations, timeout, workers, baseline, full, all.size)
        Files.writeString(outDir.resolve("report.md"), report.markdown())
        Files.writeString(outDir.resolve("results.csv"), report.csv())
        log("score ${report.scoreText()}; report: ${outDir.resolve("report.md")}")
        if (full) {
            val unexplained = report.survivors.filter { it.first.id !in explained }
            check(unexplained.isEmpty()) {
                "survivors not explained in $survivorsFile: " + unexplained.joinToString { it.first.id }
            }
            check(report.score >= 0.9) { "mutation score ${report.scoreText()} is below 90 %" }
        }
    }
}) {
    /** How one source fared: STATUS (also `TIMEOUT`, `CRASH`), the first failing check and its message, seconds. */
    data class Outcome(val status: String, val check: String, val message: String, val seconds: Double) {
        val killed: Boolean get() = status == "KILLED" || status == "TIMEOUT" || status == "CRASH"
    }

    companion object {
        const val DEFAULT_ITERATIONS = 25

        private fun prop(name: String): String? = System.getProperty("attn4j.clmutation.$name")?.trim()?.takeIf { it.isNotEmpty() }

        private fun log(s: String) = println("[cl-mutation] $s")

        /**
         * The verdicts of the survivors file: table rows `| `ID` | verdict | why |`, verdict `equivalent` (the same
         * function on every OpenCL device: left out of the score), or anything else (e.g. `pocl-only`, `gap`: counted
         * as survivors).
         */
        fun explainedSurvivors(file: Path): Map<String, String> {
            if (!Files.isRegularFile(file)) return emptyMap()
            val row = Regex("""^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|""")
            return Files.readAllLines(file).mapNotNull { row.find(it) }.associate { it.groupValues[1] to it.groupValues[2].lowercase() }
        }

        private fun classPath(): String =
            System.getProperty("surefire.test.class.path")?.takeIf { it.isNotBlank() } ?: System.getProperty("java.class.path")

        /** Runs [ClMutantWorker] on [source] in a fresh JVM; a process that outlives [timeoutSeconds] is killed. */
        fun runWorker(outDir: Path, id: String, source: String, iterations: Int, timeoutSeconds: Long): Outcome {
            val name = id.replace("+", "plus").replace("-", "minus").replace(Regex("[^A-Za-z0-9]+"), "_")
            val src = outDir.resolve("mutants").resolve("$name.cl")
            val result = outDir.resolve("mutants").resolve("$name.result")
            Files.writeString(src, source)
            Files.deleteIfExists(result)
            val javaHome = System.getProperty("java.home")
            val classPath = classPath()
            Files.writeString(outDir.resolve("classpath.txt"), classPath) // to replay one mutant by hand (README.md)
            val cmd = mutableListOf("$javaHome/bin/java", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Xmx2g", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                // a mutant that crashes the JVM leaves its hs_err file with the logs, not in the module folder
                "-XX:ErrorFile=" + outDir.resolve("logs").resolve("hs_err_${name}_%p.log"))
            listOf("attn4j.opencl.device", "attn4j.golden.dir").forEach { p -> System.getProperty(p)?.let { cmd += "-D$p=$it" } }
            cmd += listOf("-cp", classPath, ClMutantWorker::class.java.name, src.toString(), result.toString(), iterations.toString())
            val pb = ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(outDir.resolve("logs").resolve("$name.log").toFile())
            // HotSpot signal chaining under PoCL's LLVM (see kernels-gpu/README.md); each mutant gets PoCL's cache to itself
            pb.environment()["LD_PRELOAD"] = "$javaHome/lib/libjsig.so"
            val cache = outDir.resolve("pocl-cache").resolve(name)
            pb.environment()["POCL_CACHE_DIR"] = cache.toString()
            val t0 = System.nanoTime()
            val p = pb.start()
            val finished = p.waitFor(timeoutSeconds, TimeUnit.SECONDS)
            val seconds = (System.nanoTime() - t0) / 1e9
            if (!finished) {
                p.descendants().forEach { it.destroyForcibly() }
                p.destroyForcibly().waitFor()
            }
            // a mutant's compiled kernels are of no use to any other source
            if (Files.isDirectory(cache)) Files.walk(cache).use { w -> w.sorted(Comparator.reverseOrder()).forEach { Files.delete(it) } }
            if (!finished) {
                return Outcome("TIMEOUT", "-", "no result within $timeoutSeconds s", seconds)
            }
            if (!Files.isRegularFile(result)) return Outcome("CRASH", "-", "the JVM exited with ${p.exitValue()} and no result", seconds)
            val parts = Files.readString(result).trimEnd('\n').split('\t', limit = 3)
            return Outcome(parts[0], parts.getOrElse(1) { "-" }, parts.getOrElse(2) { "" }, seconds)
        }
    }

    /** The results as Markdown and CSV, with the score killed / (total - compile errors - equivalent). */
    class Report(
        val results: List<Pair<ClMutator.Mutant, Outcome>>,
        val explained: Map<String, String>,
        val iterations: Int,
        val timeout: Long,
        val workers: Int,
        val baseline: Outcome,
        val full: Boolean,
        val totalMutants: Int,
    ) {
        val compileErrors = results.filter { it.second.status == "COMPILE_ERROR" }
        val survivors = results.filter { it.second.status == "SURVIVED" }
        val equivalent = survivors.filter { explained[it.first.id] == "equivalent" }
        val killed = results.filter { it.second.killed }
        val score: Double get() = killed.size.toDouble() / maxOf(1, results.size - compileErrors.size - equivalent.size)

        fun scoreText(): String = "%.1f %% (%d killed / (%d mutants - %d compile errors - %d equivalent))".format(
            Locale.ROOT, 100 * score, killed.size, results.size, compileErrors.size, equivalent.size)

        fun markdown(): String = buildString {
            appendLine("# attention.cl mutation report")
            appendLine()
            appendLine("Generated by `mvn -B -Pcl-mutation -pl kernels-gpu -am verify -DskipTests` (kernels-gpu `ClMutationRun`). " +
                "Each mutant runs in its own JVM on PoCL: the conformance TCK ($iterations cases per kernel check, stop at the " +
                "first failing check, no shrinking), then the golden cases; time budget $timeout s per mutant, $workers mutants at a time. " +
                "The unmutated source passed in ${"%.0f".format(Locale.ROOT, baseline.seconds)} s.")
            if (!full) appendLine("\n**Partial run**: ${results.size} of $totalMutants mutants (filter / max).")
            appendLine()
            appendLine("**Score: ${scoreText()}**")
            appendLine()
            val byStatus = results.groupingBy { it.second.status }.eachCount()
            appendLine("| outcome | mutants |")
            appendLine("|---|---|")
            for ((s, n) in byStatus.toSortedMap()) appendLine("| $s | $n |")
            appendLine("| of which survivors marked equivalent in cl-mutation-survivors.md | ${equivalent.size} |")
            appendLine()
            appendLine("## By kind")
            appendLine()
            appendLine("| kind | mutants | killed | survived | compile errors |")
            appendLine("|---|---|---|---|---|")
            for ((k, rs) in results.groupBy { it.first.kind.label }) {
                appendLine("| $k | ${rs.size} | ${rs.count { it.second.killed }} | ${rs.count { it.second.status == "SURVIVED" }} | " +
                    "${rs.count { it.second.status == "COMPILE_ERROR" }} |")
            }
            appendLine()
            appendLine("## Survivors")
            appendLine()
            if (survivors.isEmpty()) appendLine("None.")
            for ((m, _) in survivors) {
                val verdict = explained[m.id] ?: "NOT EXPLAINED in cl-mutation-survivors.md"
                appendLine("- `${m.id}` (line ${m.line}) `${m.original.trim()}` → `${m.replacement}`: $verdict")
            }
            appendLine()
            appendLine("## Killing checks")
            appendLine()
            appendLine("| first failing check | mutants |")
            appendLine("|---|---|")
            for ((c, n) in killed.groupingBy { if (it.second.status == "KILLED") it.second.check else it.second.status }.eachCount()
                .entries.sortedByDescending { it.value }) appendLine("| $c | $n |")
        }

        fun csv(): String = buildString {
            appendLine("id,kind,line,column,status,check,seconds,original,replacement,message")
            for ((m, o) in results) {
                appendLine(listOf(m.id, m.kind.label, m.line, m.column, o.status, o.check, "%.1f".format(Locale.ROOT, o.seconds),
                    m.original, m.replacement, o.message).joinToString(",") { q(it.toString()) })
            }
        }

        private fun q(s: String) = "\"" + s.replace("\"", "\"\"").replace('\n', ' ') + "\""
    }
}
