package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.Precision
import org.attn4j.api.DType
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor

/**
 * One conformance check: a property over generated cases, run on one backend. [run] is a plain function, so the
 * checks can be called outside Kotest (see [AttentionTck.run]); [attentionTck] wraps each in a Kotest test.
 *
 * @property name        `group/what`, e.g. `kernel/causal-top-left`, `meta/kv-split-lse-merge`, `layer/mla-absorbed`
 * @property description what it checks, one sentence
 * @property mandatory   a backend may not decline every case of this check (else one that supports nothing would pass)
 */
class TckCheck(
    val name: String,
    val description: String,
    val mandatory: Boolean = false,
    private val body: (AttentionBackend, TckConfig) -> CheckResult,
) {
    fun run(backend: AttentionBackend, config: TckConfig): CheckResult {
        val result = body(backend, config)
        if (mandatory && result is CheckResult.Skipped) {
            return CheckResult.Failed(name, config.seed, config.seedFor(name), "(every case)", "(every case)", 0,
                "the backend declined every case of a mandatory check: ${result.reasons.keys.joinToString("; ")}", 0)
        }
        return result
    }

    override fun toString(): String = name
}

/** What the checks share: plan options and a guarded way to run a backend. */
internal object Runs {
    /** LSE on, the default thread count: the path a user gets. */
    val OPTIONS: PlanOptions = PlanOptions.defaults().withLse(true)

    /** A backend run: declined with reasons, or its output. */
    sealed interface Ran {
        data class Declined(val reasons: List<String>) : Ran
        data class Done(val output: AttentionOutput) : Ran
    }

    /**
     * Asks [backend] whether it supports the problem, then plans and runs once. Inputs are snapshotted and must be
     * unchanged afterwards (a backend must not write to its inputs); out/lse must have the documented shapes.
     * Throws [ContractViolation] when the backend breaks a rule that is not about numbers.
     */
    fun kernel(backend: AttentionBackend, spec: AttentionSpec, inputs: AttentionInputs, options: PlanOptions = OPTIONS): Ran {
        val problem = inputs.validate(spec)
        val support = backend.support(problem)
        if (!support.isSupported) return Ran.Declined(support.reasons())
        val before = Snapshot(inputs)
        val out = backend.plan(problem, options).use { it.run(inputs) }
        before.requireUnchanged(inputs)
        checkOutput(backend, out, intArrayOf(problem.batch(), spec.qHeads(), problem.qLen(), spec.vHeadDim()))
        return Ran.Done(out)
    }

    /** Shape and dtype of a kernel output. */
    fun checkOutput(backend: AttentionBackend, out: AttentionOutput, outShape: IntArray) {
        if (!out.out().shape().contentEquals(outShape)) {
            throw ContractViolation("out.shape: expected ${outShape.contentToString()}, got ${out.out().shape().contentToString()}")
        }
        if (out.out().dtype() != backend.precision().dtype() && !(backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64 && out.out().dtype() == DType.FLOAT64)) {
            throw ContractViolation("out.dtype: expected ${backend.precision().dtype()} (the backend's precision), got ${out.out().dtype()}")
        }
        val lse = out.lse() ?: return
        val lseShape = outShape.copyOf(3)
        if (!lse.shape().contentEquals(lseShape)) {
            throw ContractViolation("lse.shape: expected ${lseShape.contentToString()}, got ${lse.shape().contentToString()}")
        }
    }

    /**
     * The precision an output is judged at: the backend's, or FLOAT64 for a backend's float64 path
     * ([AttentionBackend.precisionFor]) - stricter, never looser.
     */
    fun precisionOf(backend: AttentionBackend, out: Tensor): Precision =
        if (backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64 && out.dtype() == DType.FLOAT64) Precision.FLOAT64 else backend.precision()

    /** A call that must be refused: null when it threw an [AttentionException], else what it did instead. */
    fun notRefused(call: () -> Any?): String? = try {
        call()
        "returned an output"
    } catch (e: AttentionException) {
        null
    } catch (e: Exception) {
        "threw ${PropertyRunner.describe(e)}"
    }

    /** A note for checks that compare LSE when a backend returns none. */
    const val NO_LSE = "lse not compared: the backend returned no lse although PlanOptions.computeLse = true"
}

/** A backend broke a rule that is not about numbers (wrote to its inputs, wrong output shape or dtype). */
class ContractViolation(message: String) : RuntimeException(message)

/** Copies of a call's input values, to prove the backend did not write to them. */
internal class Snapshot(inputs: AttentionInputs) {
    private val values: List<DoubleArray?> = tensors(inputs).map { it?.toDoubleArray() }

    fun requireUnchanged(inputs: AttentionInputs) {
        val now = tensors(inputs)
        val names = listOf("q", "k", "v", "bias", "mask", "alibiSlopes", "sinks", "kvLens")
        for (i in now.indices) {
            val before = values[i] ?: continue
            val after = now[i]!!.toDoubleArray()
            // Compare bit patterns: NaN padding in strided views is not read through the view, so NaN never shows here.
            if (!before.contentEquals(after)) throw ContractViolation("the backend wrote to its input '${names[i]}'")
        }
    }

    private fun tensors(inputs: AttentionInputs): List<Tensor?> =
        listOf(inputs.q(), inputs.k(), inputs.v(), inputs.bias(), inputs.mask(), inputs.alibiSlopes(), inputs.sinks(), inputs.kvLens())
}
