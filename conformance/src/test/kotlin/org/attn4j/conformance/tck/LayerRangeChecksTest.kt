package org.attn4j.conformance.tck

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import org.attn4j.api.PlanOptions

/**
 * The probes of `layer/input-range` are built so that the answer is known by hand: every key alike, a uniform softmax,
 * `y = wo · v = 16 wo` (4 at `wo = 0.25`). If a weight layout changed and the reference answered 0 (an empty row) or NaN, the check would
 * compare backends against a meaningless answer; this pins the design against the float64 reference.
 */
class LayerRangeChecksTest : FunSpec({
    test("every probe's float64 reference answer is y = 16 wo everywhere (4, or 4e38 past float32), on both layers and both MLA paths") {
        val probes = LayerRangeChecks.probes()
        probes.map { it.mlaPath }.toSet() shouldBe setOf(null, PlanOptions.MlaPath.ABSORBED, PlanOptions.MlaPath.NAIVE)
        for (probe in probes) {
            val y = LayerRangeChecks.reference(probe)
            val values = y.toDoubleArray()
            values.size shouldBe 2 * 3 * 4
            val expected = 16 * probe.wo.toFloat().toDouble()   // the weights are float32
            for (v in values) withClue(probe.name) { v shouldBe (expected plusOrMinus 1e-6 * expected) }
        }
    }
})
