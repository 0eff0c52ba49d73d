package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.Float32Range;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Tensor;

import java.util.function.Supplier;

/**
 * An MHA / MQA / GQA layer on the device: projections with the tiled {@code linear} kernel, attention with the same
 * {@code attend} kernel as kernel plans (reading the projections' {@code [B, L, H*D]} layout through strides, so no
 * split/merge copies), then the output projection. Weights are uploaded once, at plan time.
 *
 * <p>Precision follows the weights: all float64 on a {@code cl_khr_fp64} device computes in double and returns
 * float64; otherwise float32. Calls on one plan are serialised.
 */
final class OpenClStandardLayer implements LayerPlan {
    private final StandardLayerConfig config;
    private final AttentionSpec spec;
    private final ClContext ctx;
    private final RealType real;
    private final int splitOverride;
    private KernelSet ks;
    private ClScope weightScope;
    private long wq, bq, wk, bk, wv, bv, wo, bo;
    private boolean closed;

    /** {@code w} has been validated against {@code config} (by {@link OpenClBackend#planLayer}). */
    OpenClStandardLayer(ClContext ctx, StandardLayerConfig config, StandardLayerWeights w, int splitOverride) {
        this.config = config;
        this.spec = config.attentionSpec();
        this.splitOverride = splitOverride;
        this.real = DeviceInputs.pathFor(ctx.device(), w.wq(), w.wk(), w.wv(), w.wo(), w.bq(), w.bk(), w.bv(), w.bo());
        String[] names = {"wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"};
        Tensor[] weights = {w.wq(), w.wk(), w.wv(), w.wo(), w.bq(), w.bk(), w.bv(), w.bo()};
        for (int i = 0; i < names.length; i++) LayerRange.requireFits(real, names[i], weights[i]);
        ctx.retain();
        this.ctx = ctx;
        try {
            ks = new KernelSet(ctx, real);
            ks.requireTiles(ks.tiles(1, config.headDim(), config.headDim()), config.headDim(), config.headDim());
            weightScope = new ClScope(ctx);
            wq = weightScope.upload(w.wq(), real);
            wk = weightScope.upload(w.wk(), real);
            wv = weightScope.upload(w.wv(), real);
            wo = weightScope.upload(w.wo(), real);
            if (config.bias()) {
                bq = weightScope.upload(w.bq(), real);
                bk = weightScope.upload(w.bk(), real);
                bv = weightScope.upload(w.bv(), real);
                bo = weightScope.upload(w.bo(), real);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public StandardLayerConfig config() {
        return config;
    }

    /**
     * @param x              {@code [B, qLen, hidden]}
     * @param kvX            {@code [B, kvLen, hidden]} cross-attention memory, or {@code null} (self-attention)
     * @param keyPaddingMask {@code [B, kvLen]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, qLen, hidden]}
     */
    @Override
    public Tensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        if (kvX != null) config.requireActivations("kvX", kvX, batch);
        Tensor memory = kvX == null ? x : kvX;
        int lq = x.size(1), lk = memory.size(1);
        if (keyPaddingMask != null) keyPaddingMask.requireShape("keyPaddingMask", batch, lk);
        LayerRange.requireFits(real, "x", x);
        if (kvX != null) LayerRange.requireFits(real, "kvX", kvX);
        int hq = config.qHeads(), hkv = config.kvHeads(), d = config.headDim(), hidden = config.hidden();
        String memoryName = kvX == null ? "x" : "kvX";
        synchronized (this) {
            requireOpen();
            try (ClScope scope = new ClScope(ctx)) {
                long xb = scope.upload(x, real);
                long mb = kvX == null ? xb : scope.upload(kvX, real);
                long q = scope.alloc(real, (long) batch * lq * hq * d);
                long k = scope.alloc(real, (long) batch * lk * hkv * d);
                long v = scope.alloc(real, (long) batch * lk * hkv * d);
                ks.linear(scope, xb, wq, bq, q, batch * lq, hq * d, hidden);
                ks.linear(scope, mb, wk, bk, k, batch * lk, hkv * d, hidden);
                ks.linear(scope, mb, wv, bv, v, batch * lk, hkv * d, hidden);
                AttendCall call = new AttendCall();
                call.spec = spec;
                call.batch = batch;
                call.qLen = lq;
                call.kvLen = lk;
                call.splits = splitOverride;
                // [B, L, H*D] read as [B, H, L, D]
                call.q(q, lq * hq * d, d, hq * d);
                call.k(k, lk * hkv * d, d, hkv * d);
                call.v(v, lk * hkv * d, d, hkv * d);
                if (keyPaddingMask != null) {
                    call.mask = scope.uploadBools(keyPaddingMask);
                    call.maskStrides = new int[]{lk, 0, 0, 1}; // [B, kvLen] seen as [B, 1, 1, kvLen]
                    if (keyPaddingMask.elementCount() == 0) call.mask = 0;
                }
                return attendAndProject(scope, call, batch, lq, () -> new Float32Range.Magnitudes(spec.effectiveScale(), d, lq, lk)
                        .q("x·wq (queries)", LayerRange.maxAbs(scope, real, q, (long) batch * lq * hq * d, "x·wq (queries)"))
                        .k(memoryName + "·wk (keys)", LayerRange.maxAbs(scope, real, k, (long) batch * lk * hkv * d, memoryName + "·wk (keys)"))
                        .v(memoryName + "·wv (values)", LayerRange.maxAbs(scope, real, v, (long) batch * lk * hkv * d, memoryName + "·wv (values)")));
            }
        }
    }

    /** A cache in this layer's precision: {@code kvHeads} heads of width {@code headDim} for keys and values. */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return newCache(batch, maxLength, real.dtype);
    }

    /**
     * A device-resident {@link OpenClKvCache} of this layer's geometry in {@code storage} (any real type: float16,
     * bfloat16 and int8 are appended by {@code Quantization} and read by the kernel as stored).
     */
    @Override
    public KvCache newCache(int batch, int maxLength, DType storage) {
        synchronized (this) {
            requireOpen();
        }
        return OpenClKvCache.contiguous(ctx, config.cacheSpec(storage, batch, maxLength));
    }

    /**
     * Projects {@code x [B, n, hidden]}, appends its keys and values to {@code cache} (contiguous, paged or any other
     * {@link KvCache} with this layer's dimensions), and attends the chunk's queries over everything cached,
     * bottom-right aligned. Shapes, room and alignment are checked before the append; a failed check leaves the
     * cache unchanged.
     *
     * @return {@code y [B, n, hidden]}
     */
    @Override
    public Tensor step(Tensor x, KvCache cache) {
        config.requireStep(x, cache); // shapes, cache geometry, alignment, room: before anything is appended
        LayerRange.requireFits(real, "x", x);
        int n = x.size(1);
        int batch = x.size(0), hq = config.qHeads(), hkv = config.kvHeads(), d = config.headDim(), hidden = config.hidden();
        synchronized (this) {
            requireOpen();
            try (ClScope scope = new ClScope(ctx)) {
                long xb = scope.upload(x, real);
                long q = scope.alloc(real, (long) batch * n * hq * d);
                long k = scope.alloc(real, (long) batch * n * hkv * d);
                long v = scope.alloc(real, (long) batch * n * hkv * d);
                ks.linear(scope, xb, wq, bq, q, batch * n, hq * d, hidden);
                ks.linear(scope, xb, wk, bk, k, batch * n, hkv * d, hidden);
                ks.linear(scope, xb, wv, bv, v, batch * n, hkv * d, hidden);
                // The cache lives on the host: bring the chunk's K/V back as [B, kvHeads, n, D] views and append
                // (append validates everything before it writes).
                Tensor kh = scope.readTensor(k, real, batch, n, hkv, d).permute(0, 2, 1, 3);
                Tensor vh = scope.readTensor(v, real, batch, n, hkv, d).permute(0, 2, 1, 3);
                int[] before = cache.lengths();
                cache.append(kh, vh);
                try {
                    AttendCall call = new AttendCall();
                    call.spec = spec;
                    call.qLen = n;
                    call.splits = splitOverride;
                    DeviceInputs.bindCache(call, scope, cache, real);
                    call.q(q, n * hq * d, d, hq * d);
                    return attendAndProject(scope, call, batch, n, () -> {
                        LayerRange.maxAbs(scope, real, q, (long) batch * n * hq * d, "x·wq (queries)");
                        Tensor queries = scope.readTensor(q, real, batch, n, hq, d).permute(0, 2, 1, 3);
                        return Float32Range.magnitudes(spec, queries, cache, "x·wq (queries)");
                    });
                } catch (RuntimeException e) {
                    cache.restoreLengths(before); // a failed step leaves the cache as it found it
                    throw e;
                }
            }
        }
    }

    /** Attention into the merged-heads layout, checked on the float32 path ({@code inputs} names them), then {@code wo}. */
    private Tensor attendAndProject(ClScope scope, AttendCall call, int batch, int lq, Supplier<Float32Range.Magnitudes> inputs) {
        int hq = config.qHeads(), d = config.headDim(), hidden = config.hidden();
        long o = scope.alloc(real, (long) batch * lq * hq * d);
        call.out(o, lq * hq * d, d, hq * d); // written straight into the merged-heads layout [B, L, Hq*D]
        LayerRange.attend(ks, scope, call, o, (long) batch * lq * hq, d, inputs);
        long y = scope.alloc(real, (long) batch * lq * hidden);
        ks.linear(scope, o, wo, bo, y, batch * lq, hidden, hq * d);
        return LayerRange.requireFiniteOutput(real, scope.readTensor(y, real, batch, lq, hidden),
                "y = attention·wo + bo (x or wo beyond the float32-safe range)");
    }

    private void requireOpen() {
        if (closed) throw new AttentionException("opencl: the layer plan is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            if (weightScope != null) weightScope.close();
            if (ks != null) ks.close();
        } finally {
            ctx.release();
        }
    }
}
