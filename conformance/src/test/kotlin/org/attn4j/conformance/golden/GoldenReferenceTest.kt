package org.attn4j.conformance.golden

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.Backends

/**
 * Every published golden case (golden/cases from PyTorch, golden/onnx from ONNX's node tests) passes on the
 * float64 reference, found by name through ServiceLoader, under FORMAT.md's tolerance (plus 1e-9 where the
 * expected values are float64).
 */
class GoldenReferenceTest : FunSpec({
    val cases = GoldenRunner.discover(listOf(Fixtures.goldenDir))

    test("all 83 golden cases are found") {
        cases.size shouldBe 83
    }

    val reference = Backends.byName("reference")
    for (dir in cases) {
        test("${dir.parent.fileName}/${dir.fileName} passes on the reference") {
            val r = GoldenRunner.run(dir, reference)
            withClue("${r.status}: ${r.message}") {
                r.status shouldBe CaseResult.Status.PASSED
            }
        }
    }
})
