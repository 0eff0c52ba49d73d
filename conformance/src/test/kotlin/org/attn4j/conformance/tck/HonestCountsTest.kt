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
 * Honest counts: a check whose cases were mostly declined is a partial skip, not a pass; the contract checks still
 * run their full count of cases on a backend that declines nearly everything; and the boundary cases reach the
 * sizes a backend names.
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

    test("boundary cases reach every named size +-1, several tiles, split-KV decode, head dims 255/256 and absorbed MLA") {
        val named = object : AttentionBackend by ReferenceBackend() {
            override fun pathSizes() = PathSizes(listOf(48), listOf(96), listOf(300), listOf(12), listOf(20))
        }
        val p = BoundaryChecks.sizesOf(named)
        val seeds = BoundaryChecks.Seeds(TckConfig(), "x")
        val lengths = BoundaryChecks.lengthCases(p, seeds)
        for (n in listOf(48, 96, 300, 12, 20)) {
            for (l in listOf(n - 1, n, n + 1, 3 * n + 1)) {
                (lengths.any { it.kvLen == l }) shouldBe true
                (lengths.any { it.qLen == l }) shouldBe true
            }
        }
        val split = BoundaryChecks.splitCases(p, seeds)
        (split.count { it.qLen == 1 && it.batch == 1 && it.kvLen > 300 && it.kvHeads <= 2 }) shouldBeGreaterThanOrEqual 10
        (split.any { it.kvLen > 2 * 300 && it.causal }) shouldBe true
        (split.any { it.kvLen > 300 && !it.window.isNone }) shouldBe true
        (split.any { it.kvLen > 300 && it.kvLens != KvLensMode.NONE }) shouldBe true
        val dims = BoundaryChecks.headDimCases(p, seeds)
        for (d in listOf(11, 12, 13, 255, 256)) (dims.any { it.headDim == d }) shouldBe true
        (dims.any { it.headDim == 256 && it.qLen >= 64 && it.kvLen >= 64 }) shouldBe true
        (dims.any { it.headDim == 576 && it.vHeadDim == 512 && it.kvHeads == 1 && it.qLen == 1 && it.kvLen > 300 }) shouldBe true
        val caches = BoundaryChecks.cacheCases(p, seeds)
        for (page in listOf(19, 20, 21)) (caches.any { it.page == page }) shouldBe true
        (caches.any { it.page == null && it.case.kvLen > 300 }) shouldBe true
        // Nothing named: the defaults (tiles 64/128, query tile 256, split from 512 keys).
        BoundaryChecks.sizesOf(ReferenceBackend()).all() shouldBe listOf(8, 16, 64, 128, 256, 512)
        for (c in lengths + split + dims + caches.map { it.case }) c.problem   // every case is valid
    }
})
