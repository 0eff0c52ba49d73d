package org.attn4j.conformance.tck

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.ints.shouldBeGreaterThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionProblem
import org.attn4j.api.Feature
import org.attn4j.api.PathSizes
import org.attn4j.api.Support
import org.attn4j.reference.ReferenceBackend

/**
 * Honest counts: a check whose cases were mostly declined is a partial skip, not a pass; and the contract checks
 * still run their full count of cases on a backend that declines nearly everything.
 */
class HonestCountsTest : FunSpec({
    /** The reference, declining every feature: only MHA without options (no mask, bias, causal, scale, ...). */
    class Narrow : AttentionBackend by ReferenceBackend() {
        override fun name() = "narrow"
        override fun support(problem: AttentionProblem): Support {
            val extra = problem.features() - Feature.EMPTY
            return if (extra.isEmpty()) Support.ok() else Support.of(extra.map { "$it: not implemented by narrow" })
        }
    }

    val config = TckConfig(iterations = 40, reportFile = null,
        checks = listOf("rejects-bad-input", "plan-shared-by-threads", "plan-reuse", "meta/", "kernel/v-head-dim", "kernel/bias"))

    test("a pass with most cases declined is a partial skip, apart from full passes in the table and counts") {
        val partial = CheckResult.Passed("kernel/v-head-dim", 1, mapOf("V_HEAD_DIM: no" to 99), 0.0, emptySet())
        partial.partial shouldBe true
        partial.cell shouldBe "partial: 1 run, 99 declined (V_HEAD_DIM: no)"
        CheckResult.Passed("a", 5, mapOf("x" to 1), 0.0, emptySet()).partial shouldBe true      // fewer than 10 run
        CheckResult.Passed("b", 60, mapOf("x" to 40), 0.0, emptySet()).partial shouldBe false   // most ran
        CheckResult.Passed("c", 5, emptyMap(), 0.0, emptySet()).partial shouldBe false          // nothing declined
        val full = CheckResult.Passed("kernel/basic", 100, emptyMap(), 0.1, emptySet())
        val md = TckSummary.markdown(config, mapOf("narrow" to listOf(full, partial)), emptyMap())
        md shouldContain "| narrow | 1 | 1 | 0 | 0 |"
        md shouldContain "| kernel/v-head-dim | partial: 1 run, 99 declined (V_HEAD_DIM: no) |"
        md shouldContain "- narrow, kernel/v-head-dim: partial skip, declined 99 of 100 cases: V_HEAD_DIM: no"
    }

    test("on a backend that declines every feature, the contract checks run their full count; feature checks are partial or skipped") {
        val report = AttentionTck.run(Narrow(), config, record = false)
        report.failures.forEach { println(it.report("narrow")) }
        report.failures.shouldBeEmpty()
        val byName = report.results.associateBy { it.check }
        fun ran(check: String): Int = byName.getValue(check).shouldBeInstanceOf<CheckResult.Passed>().also { it.partial shouldBe false }.cases
        ran("kernel/rejects-bad-input") shouldBe config.iterations / 4
        ran("kernel/plan-shared-by-threads") shouldBe config.iterations / 4
        ran("kernel/plan-reuse") shouldBe config.iterations / 2
        for (meta in listOf("meta/key-permutation", "meta/value-scale", "meta/kv-split-lse-merge")) ran(meta) shouldBe config.iterations / 2
        ran("meta/mla-paths-agree") shouldBeGreaterThanOrEqual config.layerIterations
        // Relations about a feature the backend lacks are skipped with its reason, never counted as passes.
        (byName.getValue("meta/gqa-equals-repeated-mha").shouldBeInstanceOf<CheckResult.Skipped>().reasons.keys
            .contains("GROUPED_HEADS: not implemented by narrow")) shouldBe true
        byName.getValue("meta/bias-row-shift").shouldBeInstanceOf<CheckResult.Skipped>()
        byName.getValue("kernel/bias").shouldBeInstanceOf<CheckResult.Skipped>()
        val vHeadDim = byName.getValue("kernel/v-head-dim")
        if (vHeadDim is CheckResult.Passed) vHeadDim.cell shouldStartWith "partial:"
        else vHeadDim.shouldBeInstanceOf<CheckResult.Skipped>()
    }

    test("PathSizes are validated, sorted and immutable") {
        val p = PathSizes(listOf(128, 64, 64), listOf(256), listOf(512), listOf(16), listOf())
        p.kvTiles() shouldBe listOf(64, 128)
        p.all() shouldBe listOf(16, 64, 128, 256, 512)
        PathSizes.NONE.isEmpty shouldBe true
        shouldThrow<AttentionException> { PathSizes(listOf(0), listOf(), listOf(), listOf(), listOf()) }.message shouldContain "kvTiles"
        shouldThrow<UnsupportedOperationException> { (p.kvTiles() as MutableList<Int>).add(1) }
    }
})
