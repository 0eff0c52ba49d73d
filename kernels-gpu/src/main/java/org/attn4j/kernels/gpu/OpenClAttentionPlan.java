package org.attn4j.kernels.gpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.Float32Range;
import org.attn4j.api.Support;
import org.attn4j.api.KvCache;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * An attention plan on one OpenCL device. The plan builds (or takes from the device's cache) the float32 program
 * and creates its kernels; {@link #run} only uploads, enqueues and reads back. Float64 inputs on a device with
 * {@code cl_khr_fp64} run in double: that program is built on the first such call and cached for the device.
 *
 * <p>Thread-safe: calls on one plan are serialised (kernel arguments are per kernel object); separate plans run
 * concurrently. {@link PlanOptions#threads()} is ignored: the device decides its parallelism.
 */
final class OpenClAttentionPlan implements AttentionPlan {
    private final AttentionProblem problem;
    private final AttentionSpec spec;
    private final boolean computeLse;
    private final ClContext ctx;
    private final int splitOverride;
    private final KernelSet[] kernels = new KernelSet[RealType.values().length];
    private boolean closed;

    /** @param splitOverride KV splits to force (tests), 0 = choose from the device */
    OpenClAttentionPlan(ClContext ctx, AttentionProblem problem, PlanOptions options, int splitOverride) {
        this.problem = problem;
        this.spec = problem.spec();
        this.computeLse = options.computeLse();
        this.splitOverride = splitOverride;
        ctx.retain();
        this.ctx = ctx;
        try {
            kernels[RealType.FLOAT32.ordinal()] = new KernelSet(ctx, RealType.FLOAT32);
            KernelSet ks = kernels[RealType.FLOAT32.ordinal()];
            ks.requireTiles(ks.tiles(1, spec.headDim(), spec.vHeadDim()), spec.headDim(), spec.vHeadDim());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public AttentionProblem problem() {
        return problem;
    }

    /**
     * @param inputs see {@link AttentionInputs}; validated against the planned spec before any device work
     * @return {@code out [B, qHeads, qLen, vHeadDim]} and {@code lse [B, qHeads, qLen]} (when the plan computes it),
     *         float64 tensors when q, k and v are float64 and the device has {@code cl_khr_fp64}, float32 otherwise
     */
    @Override
    public AttentionOutput run(AttentionInputs inputs) {
        AttentionException.require(inputs != null, "inputs", "attention inputs", "null");
        Support.of(OpenClBackend.modReasons(inputs.validate(spec))).orThrow("opencl", "these inputs");
        RealType real = DeviceInputs.pathFor(ctx.device(), inputs.q(), inputs.k(), inputs.v());
        if (real == RealType.FLOAT32) Float32Range.requireFits(inputs);
        synchronized (this) {
            KernelSet ks = kernels(real);
            try (ClScope scope = new ClScope(ctx)) {
                AttendCall call = new AttendCall();
                call.spec = spec;
                call.batch = inputs.batch();
                call.qLen = inputs.qLen();
                call.kvLen = inputs.kvLen();
                call.splits = splitOverride;
                DeviceInputs.bindInputs(call, scope, inputs, real);
                return execute(call, scope, ks, inputs.sinks(), () -> Float32Range.magnitudes(spec, inputs));
            }
        }
    }

    /**
     * Attends {@code q [B, qHeads, qLen, headDim]} over a KV cache, bottom-right aligned per sequence. Paged caches
     * are read page by page through their block tables; contiguous caches from their slab. A keys-only (MLA latent)
     * cache has no value slab for the device kernel: it is gathered, its values read from the key rows (the API's
     * default decode).
     */
    @Override
    public AttentionOutput decode(Tensor q, KvCache cache) {
        AttentionException.require(cache != null, "cache", "a KV cache", "null");
        if (cache.vHeadDim() == 0) return AttentionPlan.super.decode(q, cache);
        AttentionException.require(q != null && q.rank() == 4, "q.rank", 4, q == null ? "null" : q.rank());
        checkCache(spec, cache);
        int[] want = {cache.sequences(), spec.qHeads(), q.size(2), spec.headDim()};
        AttentionException.require(Arrays.equals(q.shape(), want), "q.shape", Arrays.toString(want), Arrays.toString(q.shape()));
        // a reduced q (float16, bfloat16, int8) is widened to float32 as it is uploaded: exact for the 16-bit types
        AttentionException.require(q.dtype().isReal(), "q.dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", q.dtype());
        Tensors.requireFinite("q", q);
        RealType real = DeviceInputs.pathFor(ctx.device(), cache.dtype(), q);
        if (real == RealType.FLOAT32) Float32Range.requireFits("q", q);
        synchronized (this) {
            KernelSet ks = kernels(real);
            try (ClScope scope = new ClScope(ctx)) {
                AttendCall call = new AttendCall();
                call.spec = spec;
                call.qLen = q.size(2);
                call.splits = splitOverride;
                DeviceInputs.bindCache(call, scope, cache, real);
                int hq = spec.qHeads(), d = spec.headDim(), lq = call.qLen;
                call.q(scope.upload(q, real), hq * lq * d, lq * d, d);
                return execute(call, scope, ks, null, () -> Float32Range.magnitudes(spec, q, cache, "q"));
            }
        }
    }

    /** The checks a cache must pass for attention under {@code spec} (dimensions, bottom-right alignment). */
    static void checkCache(AttentionSpec spec, KvCache cache) {
        if ((spec.causal() || spec.hasWindow()) && spec.alignment() != Alignment.BOTTOM_RIGHT) {
            throw AttentionException.invalid("spec.alignment", "BOTTOM_RIGHT for KV-cache decoding", spec.alignment());
        }
        AttentionException.require(cache.kvHeads() == spec.kvHeads(), "cache.kvHeads", spec.kvHeads(), cache.kvHeads());
        AttentionException.require(cache.headDim() == spec.headDim(), "cache.headDim", spec.headDim(), cache.headDim());
        AttentionException.require(cache.vHeadDim() == spec.vHeadDim(), "cache.vHeadDim", spec.vHeadDim(), cache.vHeadDim());
    }

    /**
     * Runs the call and, on the float32 path, checks that its result stayed within float32 (AttentionBackend,
     * "Numeric range"): the lse is always computed for that (a few floats per row), and a non-finite element, or an
     * empty-looking row (lse -inf or the sink) while the inputs' bounds allow an overflow, throws an
     * AttentionException naming the input. {@code inputs} is evaluated only then.
     */
    private AttentionOutput execute(AttendCall call, ClScope scope, KernelSet ks, Tensor sinks, Supplier<Float32Range.Magnitudes> inputs) {
        RealType real = ks.real;
        int b = call.batch, hq = spec.qHeads(), lq = call.qLen, dv = spec.vHeadDim();
        boolean guard = real == RealType.FLOAT32;
        long out = scope.alloc(real, (long) b * hq * lq * dv);
        call.out(out, hq * lq * dv, lq * dv, dv);
        long lse = computeLse || guard ? scope.alloc(real, (long) b * hq * lq) : 0;
        call.lse = lse == scope.context().dummy() ? 0 : lse;
        call.enqueue(ks, scope);
        Tensor o = scope.readTensor(out, real, b, hq, lq, dv);
        Tensor l = computeLse || guard ? scope.readTensor(lse, real, b, hq, lq) : null;
        if (guard) checkRange(o, l, sinks, inputs);
        return new AttentionOutput(o, computeLse ? l : null);
    }

    /** See {@link #execute}. */
    private void checkRange(Tensor o, Tensor l, Tensor sinks, Supplier<Float32Range.Magnitudes> inputs) {
        checkRange(o.toFloatArray(), l.toFloatArray(), sinks == null ? null : sinks.toFloatArray(), Math.max(1, o.size(2)),
                inputs, "attention");
    }

    /**
     * The float32 guard of every attention on the device, kernel calls and layers alike: one scan of {@code out} and
     * {@code lse} ({@code [B, Hq, qLen]}); a non-finite element, or an empty-looking row (lse -inf or the sink) while
     * the inputs' bounds allow an overflow, throws the {@link Float32Range#overflow} error naming the input.
     * {@code inputs} is evaluated only then.
     *
     * @param sinks per-head sinks or {@code null}
     * @param what  where it happened, e.g. {@code attention}, {@code layer attention}
     */
    static void checkRange(float[] out, float[] lse, float[] sinks, int qLen, Supplier<Float32Range.Magnitudes> inputs, String what) {
        int rows = lse.length;
        int lq = Math.max(1, qLen);
        boolean nonFinite = false;
        boolean emptyLooking = false;
        for (float x : out) {
            if (!Float.isFinite(x)) {
                nonFinite = true;
                break;
            }
        }
        for (int r = 0; r < rows && !nonFinite; r++) {
            float x = lse[r];
            if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) nonFinite = true;
            else if (x == Float.NEGATIVE_INFINITY || (sinks != null && x == sinks[r / lq % sinks.length])) emptyLooking = true;
        }
        if (!nonFinite && !emptyLooking) return;
        Float32Range.Magnitudes m = inputs.get();
        if (nonFinite || !m.beyondRange().isEmpty()) throw Float32Range.overflow(OpenClBackend.NAME, what, m);
    }

    private KernelSet kernels(RealType real) {
        if (closed) throw new AttentionException("opencl: the plan is closed");
        KernelSet ks = kernels[real.ordinal()];
        if (ks == null) {
            ks = new KernelSet(ctx, real);
            kernels[real.ordinal()] = ks;
        }
        return ks;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            for (int i = 0; i < kernels.length; i++) {
                if (kernels[i] != null) kernels[i].close();
                kernels[i] = null;
            }
        } finally {
            ctx.release();
        }
    }
}
