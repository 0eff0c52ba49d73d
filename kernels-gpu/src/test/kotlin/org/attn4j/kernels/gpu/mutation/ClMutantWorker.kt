package org.attn4j.kernels.gpu.mutation

import org.attn4j.api.AttentionException
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenDirs
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.conformance.tck.AttentionTck
import org.attn4j.conformance.tck.CheckResult
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.kernels.gpu.MutantBackends
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration

/**
 * Runs one kernel source (a mutant, or the original as the baseline) in its own JVM, so that a mutant that hangs
 * the device or crashes the process cannot take the run with it: builds it, then runs the TCK (stopping at the
 * first failing check, no shrinking) and the golden cases on an `opencl` backend made from that source.
 *
 * Arguments: `<source.cl> <result file> <TCK iterations>`. The result file gets one line
 * `STATUS<TAB>check<TAB>message`, STATUS one of `SURVIVED`, `KILLED`, `COMPILE_ERROR`, `UNAVAILABLE`.
 */
object ClMutantWorker {
    @JvmStatic
    fun main(args: Array<String>) {
        require(args.size == 3) { "usage: ClMutantWorker <source.cl> <result file> <iterations>" }
        val source = Files.readString(Path.of(args[0]))
        val resultFile = Path.of(args[1])
        val iterations = args[2].toInt()
        val result = try {
            run(source, iterations)
        } catch (t: Throwable) {
            // an exception outside the TCK's own guard (it reports backend exceptions as failed cases)
            Triple("KILLED", "worker", t.toString())
        }
        Files.writeString(resultFile, "${result.first}\t${result.second}\t${oneLine(result.third)}\n")
        // a kernel may still be running on a worker thread (a timed-out case): do not wait for it
        Runtime.getRuntime().halt(0)
    }

    private fun run(source: String, iterations: Int): Triple<String, String, String> {
        val backend = MutantBackends.withSource(source)
        val unavailable = backend.unavailableReason()
        if (unavailable.isPresent) return Triple("UNAVAILABLE", "-", unavailable.get())
        try {
            MutantBackends.build(backend)
        } catch (e: AttentionException) {
            if (e.message?.contains("building the kernels") == true) return Triple("COMPILE_ERROR", "-", e.message!!.lineSequence().take(6).joinToString(" "))
            throw e
        }
        val config = TckConfig(iterations = iterations, maxShrinkSteps = 0, stopAtFirstFailure = true,
            caseTimeout = Duration.ofSeconds(30), reportFile = null) // a case takes well under a second unmutated
        val report = AttentionTck.run(backend, config, record = false)
        report.failures.firstOrNull()?.let {
            // the float64 program is built on first use: a build failure there is a compile error, not a kill
            if (it.message.contains("building the kernels")) return Triple("COMPILE_ERROR", it.check, it.message)
            return Triple("KILLED", it.check, it.message)
        }
        for (dir in GoldenRunner.discover(listOf(GoldenDirs.project()))) {
            val r = GoldenRunner.run(dir, backend)
            if (r.status == CaseResult.Status.FAILED) return Triple("KILLED", "golden/${dir.parent.fileName}/${dir.fileName}", r.message ?: "")
        }
        return Triple("SURVIVED", "-", "${report.passed.size} checks passed, ${report.skipped.size} skipped")
    }

    private fun oneLine(s: String): String = s.replace('\t', ' ').replace('\n', ' ').take(400)
}
