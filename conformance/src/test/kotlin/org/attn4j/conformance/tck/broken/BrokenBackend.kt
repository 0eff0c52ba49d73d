package org.attn4j.conformance.tck.broken

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.BoolTensor
import org.attn4j.api.Feature
import org.attn4j.api.Float32Range
import org.attn4j.api.FloatTensor
import org.attn4j.api.KvCache
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Support
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import org.attn4j.reference.ReferenceMath

/**
 * A float32 backend with one deliberate [bug] (test only; never registered with ServiceLoader). Kernels run
 * [BrokenKernel]; layers run the float64 reference rounded to float32, except for the two layer bugs, which are
 * wired in here: [Bug.KV_CACHE_OFFSET_OFF_BY_ONE] in the standard layer's `step`, [Bug.ROPE_INTERLEAVED_FOR_HALVES]
 * in MLA's RoPE pairing.
 */
class BrokenBackend(private val bug: Bug) : AttentionBackend {
    private val kernel = BrokenKernel(bug)
    private val reference = ReferenceBackend()

    override fun name(): String = "broken-${bug.name.lowercase()}"

    override fun precision(): Precision = Precision.FLOAT32

    /** The toy kernel has no FlexAttention hooks: it declines them, as an honest backend would. */
    override fun support(problem: AttentionProblem): Support =
        if (problem.features().any { it == Feature.SCORE_MOD || it == Feature.MASK_MOD }) Support.no("SCORE_MOD/MASK_MOD: the toy kernel has no hooks")
        else Support.ok()

    override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan = object : AttentionPlan {
        override fun problem(): AttentionProblem = problem

        override fun run(inputs: AttentionInputs?): AttentionOutput {
            AttentionException.require(inputs != null, "inputs", "inputs", "null")
            inputs!!.validate(problem.spec())   // bad input -> AttentionException, as the API requires
            // numeric range (kernel/input-range): this naive float32 kernel refuses, up front, inputs whose loose
            // float32 bounds (score, biased score, value sum) break, rather than return NaN or empty rows
            Float32Range.requireFits(inputs)
            val magnitudes = Float32Range.magnitudes(problem.spec(), inputs)
            if (magnitudes.beyondRange().isNotEmpty()) throw Float32Range.overflow(name(), "attention", magnitudes)
            val o = kernel.attend(problem.spec(), inputs)
            return if (options.computeLse()) o else AttentionOutput(o.out(), null)
        }
    }

    override fun supportLayer(config: LayerConfig): Support = Support.ok()

    override fun planLayer(config: LayerConfig, weights: LayerWeights, options: PlanOptions): LayerPlan {
        val planned = if (bug == Bug.ROPE_INTERLEAVED_FOR_HALVES && config is MlaLayerConfig && !config.ropeInterleaved()) {
            config.withRope(true, config.ropeTheta(), config.positionOffset())
        } else {
            config
        }
        val ref = reference.planLayer(planned, weights, options)
        if (bug == Bug.KV_CACHE_OFFSET_OFF_BY_ONE && config is StandardLayerConfig) {
            return OffByOneStepLayer(config, weights as StandardLayerWeights, ref)
        }
        return Float32Layer(ref)
    }

    override fun toString(): String = name()

    /** The reference layer with outputs rounded to float32 (this backend's precision). */
    private open class Float32Layer(val ref: LayerPlan) : LayerPlan {
        override fun config(): LayerConfig = ref.config()
        // nullable as Java callers may pass null: the reference layer answers with an AttentionException
        override fun forward(x: Tensor?, kvX: Tensor?, keyPaddingMask: BoolTensor?): Tensor = float32(ref.forward(x, kvX, keyPaddingMask))
        override fun newCache(batch: Int, maxLength: Int): KvCache = ref.newCache(batch, maxLength)
        override fun step(x: Tensor?, cache: KvCache?): Tensor = float32(ref.step(x, cache))

        /** A float32 backend cannot return a y beyond float32: an AttentionException, never +-inf. */
        fun float32(y: Tensor): FloatTensor {
            val f = FloatTensor.copyOf(y)
            for (v in f.data()) AttentionException.require(v.isFinite(), "y", "within float32", v)
            return f
        }
    }

    /**
     * [Bug.KV_CACHE_OFFSET_OFF_BY_ONE]: `step` appends the chunk's keys, then attends as if its queries sat one
     * position earlier than they do, `d_i = i + Lk - n - 1`: with a causal mask each query misses its own key.
     */
    private class OffByOneStepLayer(val config: StandardLayerConfig, val w: StandardLayerWeights, ref: LayerPlan) : Float32Layer(ref) {
        override fun step(x: Tensor?, cache: KvCache?): Tensor {
            config.requireStep(x, cache) // bad arguments are rejected as the API requires; the bug is the offset only
            x!!
            cache!!
            val b = x.size(0)
            val n = x.size(1)
            fun heads(t: Tensor, h: Int) = ReferenceMath.splitHeads(t, h, config.headDim())
            val q = heads(ReferenceMath.linear(x, w.wq(), w.bq()), config.qHeads())
            cache.append(heads(ReferenceMath.linear(x, w.wk(), w.bk()), config.kvHeads()), heads(ReferenceMath.linear(x, w.wv(), w.bv()), config.kvHeads()))
            var inputs = cache.gather(q)
            val spec = config.attentionSpec()
            if (spec.causal()) {
                val lk = inputs.kvLen()
                val lens = inputs.kvLens().toIntArray()
                val mask = BooleanArray(b * n * lk) { at ->
                    val s = at / (n * lk)
                    val i = at / lk % n
                    val j = at % lk
                    j <= i + lens[s] - n - 1            // the bug: one position early
                }
                inputs = inputs.withMask(BoolTensor.of(mask, b, 1, n, lk))
            }
            val attended = ReferenceAttention.attend(spec, inputs).out()
            return FloatTensor.copyOf(ReferenceMath.linear(ReferenceMath.mergeHeads(attended), w.wo(), w.bo()))
        }
    }
}
