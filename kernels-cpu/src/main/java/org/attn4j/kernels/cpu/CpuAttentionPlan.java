package org.attn4j.kernels.cpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.Float32Range;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

import java.util.Arrays;

/**
 * A prepared float32 attention: owns its worker threads (released by {@link #close()}), reusable and safe
 * for concurrent {@link #run}/{@link #decode} calls (each call has its own buffers).
 */
final class CpuAttentionPlan implements AttentionPlan {
    private final AttentionProblem problem;
    private final PlanOptions options;
    private final FlashEngine engine;

    CpuAttentionPlan(AttentionProblem problem, PlanOptions options, CpuKernelSupport kernels, CpuTuning tuning) {
        this.problem = problem;
        this.options = options;
        this.engine = new FlashEngine(kernels, tuning, new WorkerPool(options.threads()));
    }

    @Override
    public AttentionProblem problem() {
        return problem;
    }

    /**
     * {@inheritDoc}
     * <p>{@code inputs}: {@code q [B, qHeads, qLen, headDim]}, {@code k [B, kvHeads, kvLen, headDim]},
     * {@code v [B, kvHeads, kvLen, vHeadDim]}, optional bias/mask (broadcast views are read through their
     * strides), ALiBi slopes and sinks {@code [qHeads]}, kv_lens {@code [B]}. q/k/v float32, float64, float16, bfloat16
     * or int8 (reduced k/v with unit-stride rows are read in place), any strides.
     * Returns float32 {@code out [B, qHeads, qLen, vHeadDim]} and, if planned, {@code lse [B, qHeads, qLen]}.
     */
    @Override
    public AttentionOutput run(AttentionInputs inputs) {
        engine.pool().ensureOpen();
        AttentionException.require(inputs != null, "inputs", "inputs", "null");
        AttentionSpec spec = problem.spec();
        AttentionProblem p = inputs.validate(spec); // throws before anything is written
        Float32Range.requireFits(inputs); // float64 inputs are read rounded: never as +-inf
        int b = p.batch();
        int lq = p.qLen();
        int lk = p.kvLen();
        int[] lengths = inputs.kvLens() != null ? inputs.kvLens().toIntArray() : filled(b, lk);
        FloatTensor out = FloatTensor.zeros(b, spec.qHeads(), lq, spec.vHeadDim());
        FloatTensor lse = options.computeLse() ? FloatTensor.zeros(b, spec.qHeads(), lq) : null;
        AttentionCall c = new AttentionCall().spec(spec, b, lq).queries(inputs.q());
        c.kv = KvSource.dense(inputs.k(), inputs.v(), lengths);
        c.bias(inputs.bias(), lk).mask(inputs.mask(), lk).alibi(inputs.alibiSlopes()).sinks(inputs.sinks())
                .mods(inputs.scoreMod(), inputs.maskMod());
        outputs(c, out, lse);
        engine.run(c, () -> Float32Range.magnitudes(spec, inputs), "attention");
        return new AttentionOutput(out, lse);
    }

    /**
     * Attends {@code q [B, qHeads, qLen, headDim]} over a cache, bottom-right aligned per sequence. float32
     * {@code ContiguousKvCache} / {@code PagedKvCache} are read in place (pages through the block table, no
     * gather), and so are float16, bfloat16 and int8 ones, converted inside the kernels' loops; other caches are copied
     * once. A keys-only (latent, {@code vHeadDim == 0}) cache is read as
     * MLA's absorbed form: the values are the first {@code spec.vHeadDim} columns of each key row.
     */
    @Override
    public AttentionOutput decode(Tensor q, KvCache cache) {
        engine.pool().ensureOpen();
        AttentionSpec spec = problem.spec();
        AttentionException.require(cache != null, "cache", "a KV cache", "null");
        boolean latent = checkDecode(spec, q, cache);
        int b = q.size(0);
        int lq = q.size(2);
        FloatTensor out = FloatTensor.zeros(b, spec.qHeads(), lq, spec.vHeadDim());
        FloatTensor lse = options.computeLse() ? FloatTensor.zeros(b, spec.qHeads(), lq) : null;
        AttentionCall c = new AttentionCall().spec(spec, b, lq).queries(q);
        c.bottomRight = true;
        c.kv = KvSource.ofCache(cache, latent);
        outputs(c, out, lse);
        engine.run(c, () -> Float32Range.magnitudes(spec, q, cache, "q"), "decode");
        return new AttentionOutput(out, lse);
    }

    /** Checks {@code q} and the cache against the spec; returns whether the cache is latent (keys only). */
    static boolean checkDecode(AttentionSpec spec, Tensor q, KvCache cache) {
        if ((spec.causal() || spec.hasWindow()) && spec.alignment() != Alignment.BOTTOM_RIGHT) {
            throw AttentionException.invalid("spec.alignment", "BOTTOM_RIGHT for KV-cache decoding", spec.alignment());
        }
        AttentionException.require(q != null, "q", "a tensor", "null");
        AttentionException.require(q.dtype().isReal(), "q.dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", q.dtype());
        AttentionException.require(q.rank() == 4, "q.rank", 4, q.rank() + " (shape " + Arrays.toString(q.shape()) + ")");
        q.requireShape("q", cache.sequences(), spec.qHeads(), q.size(2), spec.headDim());
        AttentionException.require(cache.kvHeads() == spec.kvHeads(), "cache.kvHeads", spec.kvHeads(), cache.kvHeads());
        AttentionException.require(cache.headDim() == spec.headDim(), "cache.headDim", spec.headDim(), cache.headDim());
        boolean latent = cache.vHeadDim() == 0;
        if (latent) {
            AttentionException.require(spec.vHeadDim() <= spec.headDim(), "spec.vHeadDim",
                    "<= headDim=" + spec.headDim() + " to read values from a keys-only (latent) cache", spec.vHeadDim());
        } else {
            AttentionException.require(cache.vHeadDim() == spec.vHeadDim(), "cache.vHeadDim", spec.vHeadDim(), cache.vHeadDim());
        }
        Tensors.requireFinite("q", q);
        Float32Range.requireFits("q", q);
        return latent;
    }

    static void outputs(AttentionCall c, FloatTensor out, FloatTensor lse) {
        c.output(out.data(), 0, out.stride(0), out.stride(1), out.stride(2));
        c.lse = lse == null ? null : lse.data();
    }

    static int[] filled(int n, int value) {
        int[] a = new int[n];
        Arrays.fill(a, value);
        return a;
    }

    @Override
    public void close() {
        engine.pool().close();
    }

    @Override
    public String toString() {
        return "CpuAttentionPlan[" + problem + ", " + engine.kernels().name() + ", threads " + options.threads() + "]";
    }
}
