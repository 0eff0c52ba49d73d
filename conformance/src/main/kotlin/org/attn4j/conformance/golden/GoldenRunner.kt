package org.attn4j.conformance.golden

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.DoubleTensor
import org.attn4j.api.PlanOptions
import org.attn4j.api.DType
import org.attn4j.api.Precision
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import java.io.IOException
import java.io.UncheckedIOException
import java.nio.file.FileSystemLoopException
import java.nio.file.FileVisitOption
import java.nio.file.FileVisitResult
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.SimpleFileVisitor
import java.nio.file.attribute.BasicFileAttributes
import kotlin.io.path.isDirectory
import kotlin.io.path.name

/**
 * The outcome of one golden case on one backend.
 *
 * @property name     the case's name as written (its folder name when case.json is unreadable); not escaped: whoever
 *                    prints it escapes it (the cli does)
 * @property kind     `kernel`, `layer`, or `?` when unreadable
 * @property features short labels of what the case exercises
 * @property maxError the largest `|actual - expected|` over all compared tensors (infinite or NaN when a
 *                    value did not match in kind), NaN when nothing was compared
 * @property message  why it failed / was skipped / is an error; for a pass, a one-line summary
 */
data class CaseResult(
    val name: String,
    val kind: String,
    val features: List<String>,
    val maxError: Double,
    val status: Status,
    val message: String?,
) {
    enum class Status {
        /** every compared element is within tolerance */
        PASSED,

        /** the backend computed something out of tolerance, or threw */
        FAILED,

        /** the backend declines a feature the case needs (the message quotes its reasons) */
        SKIPPED,

        /** the case itself could not be read */
        ERROR
    }
}

/** How [GoldenRunner.compare] judged one tensor. */
data class Comparison(
    val passed: Boolean,
    /** largest `|actual - expected|` (infinite / NaN if a value mismatched in kind) */
    val maxError: Double,
    /** elements outside tolerance */
    val failures: Int,
    /** the first failing element, described, or null */
    val firstFailure: String?,
)

/**
 * Runs golden cases on any [AttentionBackend] with FORMAT.md's tolerance rule. Never throws for a bad case or a
 * misbehaving backend: the result says ERROR (the case is unreadable) or FAILED (the backend threw or was off).
 *
 * ```
 * for (dir in GoldenRunner.discover(listOf(Path.of("golden")))) println(GoldenRunner.run(dir, Backends.byName("reference")))
 * ```
 */
object GoldenRunner {
    /**
     * Case folders (folders holding a regular file `case.json`) under [paths], recursively, sorted and without
     * duplicates. A path that is itself a case folder, or a `case.json` file, counts. A path that does not exist is
     * an error. Symbolic links to folders are followed; a link back into a folder being walked (a loop) is not
     * walked again. A case reached through several paths (a link to a case in the same tree) is listed once,
     * under its first path in sorted order.
     */
    @JvmStatic
    fun discover(paths: List<Path>): List<Path> {
        val found = sortedSetOf<Path>()
        for (p in paths) {
            val path = p.toAbsolutePath().normalize()
            when {
                Files.isRegularFile(path) && path.name == GoldenCase.CASE_FILE -> found.add(path.parent)
                path.isDirectory() -> try {
                    Files.walkFileTree(path, setOf(FileVisitOption.FOLLOW_LINKS), Int.MAX_VALUE, CaseFinder(found))
                } catch (e: IOException) {
                    throw GoldenFormatException(p, "cannot list: $e", e)
                } catch (e: UncheckedIOException) {
                    throw GoldenFormatException(p, "cannot list: ${e.cause}", e)
                }
                Files.exists(path) -> throw GoldenFormatException(p, "neither a folder nor a ${GoldenCase.CASE_FILE} file")
                else -> throw GoldenFormatException(p, "no such file or directory")
            }
        }
        val byRealPath = LinkedHashMap<Path, Path>()
        for (dir in found) byRealPath.putIfAbsent(realPathOrSelf(dir), dir)
        return byRealPath.values.toList()
    }

    private fun realPathOrSelf(p: Path): Path = try {
        p.toRealPath()
    } catch (e: IOException) {
        p
    }

    /** Collects the folders of `case.json` files; links are followed, loops skipped (their folders are walked already). */
    private class CaseFinder(val found: MutableSet<Path>) : SimpleFileVisitor<Path>() {
        override fun visitFile(file: Path, attrs: BasicFileAttributes): FileVisitResult {
            if (file.name == GoldenCase.CASE_FILE && attrs.isRegularFile) file.parent?.let { found.add(it) }
            return FileVisitResult.CONTINUE
        }

        override fun visitFileFailed(file: Path, exc: IOException): FileVisitResult {
            if (exc is FileSystemLoopException) return FileVisitResult.CONTINUE
            throw exc
        }
    }

    /** Reads the case in [caseDir] and runs it on [backend]. */
    @JvmStatic
    fun run(caseDir: Path, backend: AttentionBackend): CaseResult {
        fun unreadable(message: String?) = CaseResult(caseDir.fileName?.toString() ?: caseDir.toString(), "?",
            emptyList(), Double.NaN, CaseResult.Status.ERROR, message?.let { SafeText.escape(it, SafeText.MESSAGE_LIMIT) })
        val case = try {
            GoldenCase.read(caseDir)
        } catch (e: AttentionException) {
            return unreadable(e.message)
        } catch (e: RuntimeException) {
            return unreadable("$caseDir: ${e.javaClass.simpleName}: ${e.message}")
        } catch (e: OutOfMemoryError) {
            // The size limits keep a case below GoldenLimits.maxCaseBytes, but the heap may be smaller still. The
            // half-read tensors are garbage once this returns, so reporting and going on is safe.
            return unreadable("$caseDir: not enough memory to read the case (heap limit " +
                "${Runtime.getRuntime().maxMemory() shr 20} MiB): give the JVM more (-Xmx, e.g. in ATTN_JAVA_OPTS) or lower " +
                "-D${GoldenLimits.MAX_CASE_BYTES_PROPERTY}")
        }
        return run(case, backend)
    }

    /** Runs an already read case on [backend]. */
    @JvmStatic
    @JvmOverloads
    fun run(case: GoldenCase, backend: AttentionBackend, options: PlanOptions = PlanOptions.defaults()): CaseResult {
        // Name and message go to one output line each: escaped and bounded like the readers' errors.
        fun result(status: CaseResult.Status, maxError: Double, message: String?) =
            CaseResult(case.name, case.kind, case.features, maxError, status,
                message?.let { SafeText.escape(it, SafeText.MESSAGE_LIMIT) })
        return try {
            when (case) {
                is GoldenCase.Kernel -> {
                    // The problem does not carry the storage types: a backend declines reduced q/k/v through supportStorage.
                    val stored = listOf(case.inputs.q(), case.inputs.k(), case.inputs.v()).map { it.dtype() }.distinct()
                    val reasons = stored.map { backend.supportStorage(it) }.filter { !it.isSupported }.flatMap { it.reasons() } +
                        backend.support(case.problem).let { if (it.isSupported) emptyList() else it.reasons() }
                    if (reasons.isNotEmpty()) return result(CaseResult.Status.SKIPPED, Double.NaN, reasons.joinToString("; "))
                    val output = backend.plan(case.problem, options).use { it.run(case.inputs) }
                    val checks = mutableListOf("out" to judge(case.expectedOut, output.out(), case.tolerance, backend))
                    if (case.expectedLse != null) {
                        val lse = output.lse()
                            ?: return result(CaseResult.Status.FAILED, Double.NaN, "the backend returned no lse, the case expects one")
                        checks += "lse" to judge(case.expectedLse, lse, case.tolerance, backend)
                    }
                    summarize(checks, case, backend).let { (s, e, m) -> result(s, e, m) }
                }
                is GoldenCase.Layer -> {
                    val support = backend.supportLayer(case.config)
                    if (!support.isSupported) return result(CaseResult.Status.SKIPPED, Double.NaN, support.reasons().joinToString("; "))
                    val chunks = case.chunks
                    if (chunks != null && case.keyPaddingMask != null) {
                        // The format allows this combination, but LayerPlan.step takes no padding mask.
                        return result(CaseResult.Status.SKIPPED, Double.NaN,
                            "chunks with key_padding_mask: LayerPlan.step has no padding-mask argument")
                    }
                    val y = backend.planLayer(case.config, case.weights, options).use { plan ->
                        if (chunks == null) {
                            plan.forward(case.x, case.kvX, case.keyPaddingMask)
                        } else {
                            runChunks(plan, case.x, chunks) ?: return result(CaseResult.Status.FAILED, Double.NaN,
                                "a chunk's output does not have shape [B, chunk, hidden]")
                        }
                    }
                    summarize(listOf("y" to judge(case.expectedY, y, case.tolerance, backend)), case, backend)
                        .let { (s, e, m) -> result(s, e, m) }
                }
            }
        } catch (e: AttentionException) {
            result(CaseResult.Status.FAILED, Double.NaN, "backend '${backend.name()}' threw: ${e.message}")
        } catch (e: RuntimeException) {
            // A backend bug (index out of bounds, NPE, ...) is a failure of that backend, not of the runner.
            result(CaseResult.Status.FAILED, Double.NaN, "backend '${backend.name()}' threw ${e.javaClass.name}: ${e.message}")
        }
    }

    /**
     * Feeds `x [B, q_len, hidden]` through a fresh cache, chunk by chunk, and concatenates the outputs along the
     * sequence axis. Returns null when a chunk's output has the wrong shape.
     */
    private fun runChunks(plan: org.attn4j.api.LayerPlan, x: Tensor, chunks: IntArray): Tensor? {
        val batch = x.size(0)
        val qLen = x.size(1)
        val hidden = x.size(2)
        val cache = plan.newCache(batch, qLen)
        val y = DoubleTensor.zeros(batch, qLen, hidden)
        var start = 0
        for (c in chunks) {
            val part = plan.step(x.slice(1, start, c).copy(), cache)
            if (!part.shape().contentEquals(intArrayOf(batch, c, hidden))) return null
            Tensors.copyInto(part, y.slice(1, start, c))
            start += c
        }
        return y
    }

    private fun judge(expected: Tensor, actual: Tensor, tol: Tolerance, backend: AttentionBackend): Comparison {
        // FORMAT.md: a float64 path on float64 expected values must also meet 1e-9.
        val strict = expected is DoubleTensor &&
            (backend.precision() == Precision.FLOAT64 || (backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64 && actual is DoubleTensor))
        return compare(expected, actual, tol, if (strict) Tolerance.FLOAT64 else null)
    }

    private fun summarize(checks: List<Pair<String, Comparison>>, case: GoldenCase, backend: AttentionBackend):
        Triple<CaseResult.Status, Double, String> {
        val maxError = checks.map { it.second.maxError }.reduce { a, b -> if (a.isNaN() || b.isNaN()) Double.NaN else maxOf(a, b) }
        val bad = checks.filter { !it.second.passed }
        val strict = case.features.contains("f64") && (backend.precision() == Precision.FLOAT64 || backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64)
        val tolText = "tolerance ${case.tolerance}" + if (strict) " and ${Tolerance.FLOAT64} (float64)" else ""
        return if (bad.isEmpty()) {
            Triple(CaseResult.Status.PASSED, maxError, "max |diff| ${fmt(maxError)} ($tolText)")
        } else {
            Triple(CaseResult.Status.FAILED, maxError, bad.joinToString("; ") { (name, c) ->
                "$name: ${c.failures} element(s) outside $tolText, first $name${c.firstFailure}; max |diff| ${fmt(c.maxError)}"
            })
        }
    }

    /**
     * Compares element-wise with [tol] (and [also], when given, which every element must meet as well).
     * Shapes must be equal. Two equal infinities match; NaN never matches.
     */
    @JvmStatic
    @JvmOverloads
    fun compare(expected: Tensor, actual: Tensor, tol: Tolerance, also: Tolerance? = null): Comparison {
        if (!expected.shape().contentEquals(actual.shape())) {
            return Comparison(false, Double.NaN, expected.elementCount(),
                " shape: expected ${expected.shape().contentToString()}, got ${actual.shape().contentToString()}")
        }
        val e = expected.toDoubleArray()
        val a = actual.toDoubleArray()
        var maxError = 0.0
        var failures = 0
        var first: String? = null
        for (i in e.indices) {
            val diff = if (e[i] == a[i]) 0.0 else Math.abs(a[i] - e[i]) // equal infinities: 0, not NaN
            if (diff.isNaN()) maxError = Double.NaN else if (diff > maxError) maxError = diff // NaN stays
            val ok = tol.allows(e[i], a[i]) && (also == null || also.allows(e[i], a[i]))
            if (!ok) {
                failures++
                if (first == null) {
                    val bound = minOf(tol.bound(e[i]), also?.bound(e[i]) ?: Double.POSITIVE_INFINITY)
                    first = "${index(i, expected.shape())}: expected ${e[i]}, got ${a[i]} (|diff| ${fmt(diff)} > ${fmt(bound)})"
                }
            }
        }
        return Comparison(failures == 0, maxError, failures, first)
    }

    private fun index(flat: Int, shape: IntArray): String {
        val idx = IntArray(shape.size)
        var rest = flat
        for (ax in shape.indices.reversed()) {
            idx[ax] = rest % shape[ax]
            rest /= shape[ax]
        }
        return idx.contentToString()
    }

    private fun fmt(d: Double) = if (d.isNaN() || d.isInfinite()) d.toString() else String.format(java.util.Locale.ROOT, "%.3e", d)
}
