package org.attn4j.conformance

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import org.attn4j.conformance.golden.GoldenDirs
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.conformance.golden.goldenCases
import org.attn4j.reference.ReferenceBackend

/**
 * Every published golden case on the float64 reference. The kernels run the same suite from their own modules'
 * tests (`CpuGoldenTest`, `OpenClGoldenTest`), as a third-party backend would.
 */
class ReferenceGoldenTest : FunSpec({
    test("the 93 published golden cases are found") { GoldenRunner.discover(listOf(GoldenDirs.project())).size shouldBe 93 }
    include(goldenCases(ReferenceBackend(), declinesNone = true))
})
