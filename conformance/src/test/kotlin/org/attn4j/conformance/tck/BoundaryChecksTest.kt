package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeGreaterThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.DoubleTensor
import org.attn4j.api.PathSizes
import org.attn4j.api.PlanOptions
import org.attn4j.reference.ReferenceBackend

/** The boundary cases reach the sizes a backend names, and catch a bug that lives only beyond one of them. */
class BoundaryChecksTest : FunSpec({
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

    test("a bug only in long decodes (as in a split-KV merge) is caught at the threshold the backend names") {
        /** The reference, off by 1e-3 in one element when a decode (Lq <= 4) reads at least 300 keys. */
        class LongDecodeBug : AttentionBackend by ReferenceBackend() {
            override fun name() = "long-decode-bug"
            override fun pathSizes() = PathSizes(listOf(64), listOf(), listOf(300), listOf(), listOf())
            override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
                val inner = ReferenceBackend().plan(problem, options)
                return object : AttentionPlan by inner {
                    override fun run(inputs: AttentionInputs): AttentionOutput {
                        val o = inner.run(inputs)
                        if (inputs.qLen() > 4 || inputs.kvLen() < 300 || o.out().elementCount() == 0) return o
                        val out = DoubleTensor.copyOf(o.out())
                        out.data()[0] += 1e-3
                        return AttentionOutput(out, o.lse())
                    }
                }
            }
        }
        val config = TckConfig(reportFile = null, checks = listOf("kernel/boundary-split-kv"))
        val failed = AttentionTck.run(LongDecodeBug(), config, record = false).results.single().shouldBeInstanceOf<CheckResult.Failed>()
        failed.original shouldContain "Lk=300"      // the first case at the threshold (299 passes)
        failed.shrunk shouldContain "Lq=1 Lk=300"
        failed.report("long-decode-bug") shouldContain "-Dattn4j.tck.checks=kernel/boundary-split-kv"
    }
})
