package org.attn4j.conformance

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenResources
import org.attn4j.conformance.golden.GoldenRunner
import org.junit.jupiter.api.Assertions
import org.junit.jupiter.api.DynamicTest
import org.opentest4j.TestAbortedException
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger
import java.util.stream.Stream

/**
 * The golden cases from plain Java and JUnit 5: one dynamic test per case, read from the `attn4j-golden` jar on the
 * class path (or from folders you name).
 *
 * ```java
 * @TestFactory
 * Stream<DynamicTest> golden() {
 *     return AttnGolden.dynamicTests(new MyBackend());
 * }
 * ```
 *
 * A case the backend declines is an aborted (skipped) test with the backend's reasons, never a pass; a case out of
 * tolerance, or one the backend throws on, fails with the first element that is off. A last test fails when the
 * backend declined every case, so that declining everything cannot look green. An unavailable backend gives one
 * aborted test with its reason.
 */
object AttnGolden {
    /** The shipped cases (attn4j-golden) on [backend]. */
    @JvmStatic
    fun dynamicTests(backend: AttentionBackend?): Stream<DynamicTest> = dynamicTests(backend, listOf(GoldenResources.root()))

    /** The cases under [paths] (folders searched recursively, as `attn verify` does) on [backend]. */
    @JvmStatic
    fun dynamicTests(backend: AttentionBackend?, paths: List<Path>?): Stream<DynamicTest> {
        AttentionException.require(backend != null, "backend", "an AttentionBackend", "null")
        AttentionException.require(paths != null && paths.isNotEmpty(), "paths", "at least one folder of golden cases", paths)
        val b = backend!!
        val name = b.name()
        val why = b.unavailableReason().orElse(null)
        if (why != null) {
            return Stream.of(DynamicTest.dynamicTest("$name is available") {
                throw TestAbortedException("backend '$name' is not available: $why")
            })
        }
        val cases = GoldenRunner.discover(paths!!)
        AttentionException.require(cases.isNotEmpty(), "paths", "folders holding golden cases (case.json)", paths)
        val ran = AtomicInteger()
        val perCase = cases.stream().map { dir ->
            DynamicTest.dynamicTest("$name: ${dir.parent?.fileName}/${dir.fileName}") {
                val r = GoldenRunner.run(dir, b)
                when (r.status) {
                    CaseResult.Status.PASSED -> ran.incrementAndGet()
                    CaseResult.Status.SKIPPED -> throw TestAbortedException("declined by '$name': ${r.message}")
                    CaseResult.Status.FAILED -> { ran.incrementAndGet(); Assertions.fail<Unit>("${r.name}: ${r.message}") }
                    CaseResult.Status.ERROR -> Assertions.fail<Unit>("${r.name}: the case could not be read: ${r.message}")
                }
            }
        }
        // Runs after every case (the stream is consumed in order).
        val last = Stream.of(DynamicTest.dynamicTest("$name ran cases, not only declined them") {
            Assertions.assertTrue(ran.get() > 0, "backend '$name' declined all ${cases.size} golden cases")
        })
        return Stream.concat(perCase, last)
    }
}
