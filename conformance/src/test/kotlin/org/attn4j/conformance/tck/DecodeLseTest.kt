package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.KvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceBackend

/**
 * A backend may return no lse at all (onnxruntime's Attention has none; the TCK notes it), but one whose run()
 * returns an lse must return one from decode() on the same plan too.
 */
class DecodeLseTest : FunSpec({
    val config = TckConfig(iterations = 10, reportFile = null, checks = listOf("kernel/decode-contiguous-cache"))

    /** The reference with the lse dropped from decode() and, when [alsoRun], from run(). */
    class NoLse(private val alsoRun: Boolean) : AttentionBackend by ReferenceBackend() {
        override fun name() = "no-lse"
        override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
            val inner = ReferenceBackend().plan(problem, options)
            return object : AttentionPlan by inner {
                override fun run(inputs: AttentionInputs): AttentionOutput =
                    inner.run(inputs).let { if (alsoRun) AttentionOutput(it.out(), null) else it }
                override fun decode(q: Tensor, cache: KvCache): AttentionOutput = AttentionOutput(inner.decode(q, cache).out(), null)
            }
        }
    }

    test("decode() without an lse fails when run() on the same plan returns one") {
        val r = AttentionTck.run(NoLse(alsoRun = false), config, record = false).results.single { it.check == "kernel/decode-contiguous-cache" }
        r.shouldBeInstanceOf<CheckResult.Failed>().message shouldContain "decode() returned no lse"
    }

    test("a backend that returns no lse anywhere passes, with the lse noted as not compared") {
        val r = AttentionTck.run(NoLse(alsoRun = true), config, record = false).results.single { it.check == "kernel/decode-contiguous-cache" }
        r.shouldBeInstanceOf<CheckResult.Passed>().notes shouldContain Runs.NO_LSE
    }
})
