package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.Float32Range;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Tensor;

import java.util.function.Supplier;

/**
 * An MHA / MQA / GQA layer in float32 (FORMAT.md "kind = layer"): projections through {@link Linear}, attention
 * through the same {@link FlashEngine} as kernel calls. Heads are never split or merged by copying: the
 * projections' {@code [B, L, heads*headDim]} rows are read as {@code [B, heads, L, headDim]} through strides,
 * and the attention writes its output straight into the {@code [B, L, qHeads*headDim]} rows the output
 * projection reads.
 */
final class CpuStandardLayerPlan implements LayerPlan {
    private final StandardLayerConfig config;
    private final AttentionSpec spec;
    private final FlashEngine engine;
    private final int hidden;
    private final int hq;
    private final int hkv;
    private final int d;
    private final float[] wq, bq, wk, bk, wv, bv, wo, bo;

    CpuStandardLayerPlan(StandardLayerConfig config, StandardLayerWeights w, FlashEngine engine) {
        this.config = config;
        this.spec = config.attentionSpec();
        this.engine = engine;
        this.hidden = config.hidden();
        this.hq = config.qHeads();
        this.hkv = config.kvHeads();
        this.d = config.headDim();
        this.wq = Linear.weight("wq", w.wq());
        this.bq = Linear.weight("bq", w.bq());
        this.wk = Linear.weight("wk", w.wk());
        this.bk = Linear.weight("bk", w.bk());
        this.wv = Linear.weight("wv", w.wv());
        this.bv = Linear.weight("bv", w.bv());
        this.wo = Linear.weight("wo", w.wo());
        this.bo = Linear.weight("bo", w.bo());
    }

    @Override
    public StandardLayerConfig config() {
        return config;
    }

    /**
     * @param x              {@code [B, qLen, hidden]}
     * @param kvX            {@code [B, kvLen, hidden]}, or {@code null} for self-attention
     * @param keyPaddingMask {@code [B, kvLen]}, {@code true} = keep, or {@code null}
     * @return float32 {@code y [B, qLen, hidden]}
     */
    @Override
    public FloatTensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        engine.pool().ensureOpen();
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        int lq = x.size(1);
        if (kvX != null) config.requireActivations("kvX", kvX, batch);
        int lk = kvX == null ? lq : kvX.size(1);
        if (keyPaddingMask != null) keyPaddingMask.requireShape("keyPaddingMask", batch, lk);

        FloatTensor xf = Linear.rows("x", x);
        FloatTensor mf = kvX == null ? xf : Linear.rows("kvX", kvX);
        float[] q = Linear.linear(engine, xf.data(), xf.offset(), batch * lq, hidden, wq, bq, hq * d);
        float[] k = Linear.linear(engine, mf.data(), mf.offset(), batch * lk, hidden, wk, bk, hkv * d);
        float[] v = Linear.linear(engine, mf.data(), mf.offset(), batch * lk, hidden, wv, bv, hkv * d);

        AttentionCall c = new AttentionCall().spec(spec, batch, lq).queries(q, 0, lq * hq * d, d, hq * d);
        c.kv = new KvSource.Strided(k, 0, lk * hkv * d, d, hkv * d, v, 0, lk * hkv * d, d, hkv * d,
                CpuAttentionPlan.filled(batch, lk));
        if (keyPaddingMask != null) {
            // [B, kvLen] read as [B, 1, 1, kvLen]: zero strides over heads and queries
            c.mask(keyPaddingMask.data(), keyPaddingMask.offset(), keyPaddingMask.stride(0), 0, 0, keyPaddingMask.stride(1));
        }
        String memory = kvX == null ? "x" : "kvX";
        return attendAndProject(c, batch, lq, () -> new Float32Range.Magnitudes(spec.effectiveScale(), d, lq, lk)
                .q("x·wq (queries)", Float32Range.maxAbs(q, 0, q.length))
                .k(memory + "·wk (keys)", Float32Range.maxAbs(k, 0, k.length))
                .v(memory + "·wv (values)", Float32Range.maxAbs(v, 0, v.length)));
    }

    /** The backend's float32 tiled cache: {@code batch} sequences, {@code kvHeads} heads, {@code headDim} for K and V. */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return CpuBackend.newCache(engine.tuning(), batch, hkv, maxLength, d, d);
    }

    /**
     * Projects {@code x [B, n, hidden]}, appends its keys/values to {@code cache} and attends the chunk over the
     * whole cache, bottom-right aligned. Float32 contiguous or paged caches are read in place; other caches of
     * matching geometry are accepted and copied. Everything is checked before the append.
     *
     * @return float32 {@code y [B, n, hidden]}
     */
    @Override
    public FloatTensor step(Tensor x, KvCache cache) {
        engine.pool().ensureOpen();
        config.requireStep(x, cache); // shapes, cache geometry, alignment, room: before anything is appended
        int batch = x.size(0);
        int n = x.size(1);

        FloatTensor xf = Linear.rows("x", x);
        float[] q = Linear.linear(engine, xf.data(), xf.offset(), batch * n, hidden, wq, bq, hq * d);
        float[] k = Linear.linear(engine, xf.data(), xf.offset(), batch * n, hidden, wk, bk, hkv * d);
        float[] v = Linear.linear(engine, xf.data(), xf.offset(), batch * n, hidden, wv, bv, hkv * d);
        Linear.requireFinite("x (projected queries)", q);
        int[] shape = {batch, hkv, n, d};
        int[] strides = {n * hkv * d, d, hkv * d, 1};
        int[] before = cache.lengths();
        cache.append(new FloatTensor(k, shape, strides, 0), new FloatTensor(v, shape, strides, 0)); // checks before writing
        try {
            AttentionCall c = new AttentionCall().spec(spec, batch, n).queries(q, 0, n * hq * d, d, hq * d);
            c.bottomRight = true;
            c.kv = KvSource.ofCache(cache, false);
            return attendAndProject(c, batch, n, () -> Float32Range.magnitudes(spec,
                    FloatTensor.of(q, batch, n, hq * d).reshape(batch, n, hq, d).permute(0, 2, 1, 3), cache, "x·wq (queries)"));
        } catch (RuntimeException e) {
            cache.restoreLengths(before); // a failed step leaves the cache as it found it
            throw e;
        }
    }

    private FloatTensor attendAndProject(AttentionCall c, int batch, int lq, Supplier<Float32Range.Magnitudes> inputs) {
        float[] o = new float[Tensor.elementCount(batch, lq, hq * d)]; // [B, Lq, Hq*D] = merged heads
        c.output(o, 0, lq * hq * d, d, hq * d);
        engine.run(c, inputs, "layer attention");
        float[] y = Linear.linear(engine, o, 0, batch * lq, hq * d, wo, bo, hidden);
        Linear.requireFinite("y = attention·wo + bo (x or wo beyond the float32-safe range)", y);
        return FloatTensor.of(y, batch, lq, hidden);
    }

    @Override
    public void close() {
        engine.pool().close();
    }
}
