package org.attn4j.kernels.cpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

import java.util.Arrays;

/**
 * Multi-head latent attention (DeepSeek-V2/V3, FORMAT.md "variant mla") in float32, always on the
 * <b>absorbed</b> path: {@code W_UK} is folded into the query and the attention runs over the latent cache
 * itself, as MQA with one KV head of width {@code c + rope} (keys {@code [c_kv | k_pe]}, values the first
 * {@code c} columns of the same rows), then {@code W_UV} is applied per head. The cache is never
 * decompressed, so decode reads {@code c + rope} floats per token instead of {@code H * (2 * nope + rope)}.
 *
 * <p>Per head, with {@code W_UK_h = w_kv_b[h(nope+v) .. +nope, :]} and {@code W_UV_h} the next {@code v} rows:
 * <pre>
 * q_lat_h = q_nope_h W_UK_h         (plan time: W_UK_h^T [c, nope] stored contiguous, so each element is a dot)
 * o_lat_h = attend([q_lat_h | q_pe_h], keys [c_kv | k_pe], values c_kv)   scale 1/sqrt(nope + rope) by default
 * out_h   = W_UV_h o_lat_h          (rows of W_UV_h are contiguous in w_kv_b already)
 * </pre>
 * {@link PlanOptions#mlaPath()} {@code NAIVE} runs the other order, as DeepSeek's reference code does: the latents
 * attended (the whole latent cache on a step) are decompressed into per-head {@code K_h = [c_kv W_UK_h^T | k_pe]} and
 * {@code V_h = c_kv W_UV_h^T}, then ordinary MHA runs on them. It reads the same latent cache and gives the same result
 * up to float32 rounding; it exists to check the absorbed path and to measure what absorption saves (it costs
 * {@code H * (nope + v) * c} multiply-adds per cached token and step).
 */
final class CpuMlaLayerPlan implements LayerPlan {
    private final MlaLayerConfig config;
    private final FlashEngine engine;
    private final boolean naive;
    private final int hidden, heads, nope, rope, vDim, latent, qk, width;
    private final float scale;
    private final float[] wQ, wQA, qANorm, wQB, wKvA, kvANorm, wKvB, wO;
    private final float[] wUkT;     // [H][c][nope]: W_UK_h transposed
    private final double[] invFreq; // RoPE: theta^(-2i/rope)

    CpuMlaLayerPlan(MlaLayerConfig config, MlaLayerWeights w, FlashEngine engine, PlanOptions.MlaPath path) {
        this.config = config;
        this.engine = engine;
        this.naive = path == PlanOptions.MlaPath.NAIVE;
        this.hidden = config.hidden();
        this.heads = config.qHeads();
        this.nope = config.qkNopeHeadDim();
        this.rope = config.qkRopeHeadDim();
        this.vDim = config.vHeadDim();
        this.latent = config.kvLoraRank();
        this.qk = config.qkHeadDim();
        this.width = config.latentWidth();
        this.scale = (float) config.attentionSpec().effectiveScale();
        this.wQ = Linear.weight("wQ", w.wQ());
        this.wQA = Linear.weight("wQA", w.wQA());
        this.qANorm = Linear.weight("qANorm", w.qANorm());
        this.wQB = Linear.weight("wQB", w.wQB());
        this.wKvA = Linear.weight("wKvA", w.wKvA());
        this.kvANorm = Linear.weight("kvANorm", w.kvANorm());
        this.wKvB = Linear.weight("wKvB", w.wKvB());
        this.wO = Linear.weight("wO", w.wO());
        this.wUkT = new float[Tensor.elementCount(heads, latent, Math.max(nope, 1))];
        for (int h = 0; h < heads; h++) {
            for (int m = 0; m < nope; m++) {
                int src = (h * (nope + vDim) + m) * latent;
                for (int c = 0; c < latent; c++) wUkT[(h * latent + c) * nope + m] = wKvB[src + c];
            }
        }
        this.invFreq = new double[rope / 2];
        for (int i = 0; i < rope / 2; i++) invFreq[i] = StrictMath.pow(config.ropeTheta(), -2.0 * i / rope);
    }

    @Override
    public MlaLayerConfig config() {
        return config;
    }

    /**
     * @param x              {@code [B, L, hidden]}; token {@code t} sits at position {@code position_offset + t}
     * @param kvX            must be {@code null} (MLA layers are self-attention only)
     * @param keyPaddingMask {@code [B, L]}, {@code true} = keep, or {@code null}
     * @return float32 {@code y [B, L, hidden]}
     */
    @Override
    public FloatTensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        engine.pool().ensureOpen();
        AttentionException.require(kvX == null, "kvX", "null (MLA layers are self-attention only)",
                "a tensor " + (kvX == null ? "" : Arrays.toString(kvX.shape())));
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        int len = x.size(1);
        if (keyPaddingMask != null) keyPaddingMask.requireShape("keyPaddingMask", batch, len);
        int[] start = CpuAttentionPlan.filled(batch, config.positionOffset());
        FloatTensor xf = Linear.rows("x", x);
        if (naive) {
            float[] q = queries(xf, batch, len, start);
            float[] lat = latents(xf, batch, len, start);
            AttentionCall c = naiveCall(q, batch, len, config.alignment(), lat, len, CpuAttentionPlan.filled(batch, len));
            if (keyPaddingMask != null) {
                c.mask(keyPaddingMask.data(), keyPaddingMask.offset(), keyPaddingMask.stride(0), 0, 0, keyPaddingMask.stride(1));
            }
            return attendNaiveAndProject(c, batch, len);
        }
        float[] qAbs = absorbedQueries(xf, batch, len, start);
        float[] lat = latents(xf, batch, len, start);

        AttentionCall c = new AttentionCall().spec(attentionSpec(config.alignment()), batch, len)
                .queries(qAbs, 0, len * heads * width, width, heads * width);
        c.kv = new KvSource.Strided(lat, 0, len * width, 0, width, lat, 0, len * width, 0, width,
                CpuAttentionPlan.filled(batch, len));
        if (keyPaddingMask != null) {
            c.mask(keyPaddingMask.data(), keyPaddingMask.offset(), keyPaddingMask.stride(0), 0, 0, keyPaddingMask.stride(1));
        }
        return attendAndProject(c, batch, len);
    }

    /** A float32 latent cache: one "head" of width {@code kv_lora_rank + rope} per token, no values. */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return new ContiguousKvCache(config.cacheSpec(DType.FLOAT32, batch, maxLength));
    }

    /**
     * Projects {@code x [B, n, hidden]} (sequence {@code s}'s tokens at positions
     * {@code position_offset + cache.length(s) + t}), appends the normalised {@code c_kv} and rotated {@code k_pe}
     * to the latent cache and attends over it in place, bottom-right aligned. Checked before the append.
     *
     * @return float32 {@code y [B, n, hidden]}
     */
    @Override
    public FloatTensor step(Tensor x, KvCache cache) {
        engine.pool().ensureOpen();
        config.requireStep(x, cache); // shapes, latent-cache geometry, alignment, room: before anything is appended
        int batch = x.size(0);
        int n = x.size(1);
        int[] start = new int[batch];
        for (int s = 0; s < batch; s++) start[s] = config.positionOffset() + cache.length(s);
        FloatTensor xf = Linear.rows("x", x);
        if (naive) {
            float[] q = queries(xf, batch, n, start);
            float[] lat = latents(xf, batch, n, start);
            int[] before = cache.lengths();
            cache.append(new FloatTensor(lat, new int[]{batch, 1, n, width}, new int[]{n * width, n * width, width, 1}, 0), null);
            try {
                // the latents of the whole cache, dense [B, Lk, c + rope]: the naive path decompresses all of them
                int kvLen = cache.maxCurrentLength();
                int[] lengths = new int[batch];
                FloatTensor all = FloatTensor.zeros(batch, kvLen, width);
                for (int s = 0; s < batch; s++) {
                    lengths[s] = cache.length(s);
                    Tensors.copyInto(cache.keys(s).select(0, 0), all.select(0, s).slice(0, 0, lengths[s]));
                }
                AttentionCall c = naiveCall(q, batch, n, Alignment.BOTTOM_RIGHT, all.data(), kvLen, lengths);
                c.bottomRight = true;
                return attendNaiveAndProject(c, batch, n);
            } catch (RuntimeException e) {
                cache.restoreLengths(before); // a failed step leaves the cache as it found it
                throw e;
            }
        }
        float[] qAbs = absorbedQueries(xf, batch, n, start);
        float[] lat = latents(xf, batch, n, start);
        int[] before = cache.lengths();
        cache.append(new FloatTensor(lat, new int[]{batch, 1, n, width}, new int[]{n * width, n * width, width, 1}, 0), null);
        try {
            AttentionCall c = new AttentionCall().spec(attentionSpec(Alignment.BOTTOM_RIGHT), batch, n)
                    .queries(qAbs, 0, n * heads * width, width, heads * width);
            c.bottomRight = true;
            c.kv = KvSource.ofCache(cache, true);
            return attendAndProject(c, batch, n);
        } catch (RuntimeException e) {
            cache.restoreLengths(before); // a failed step leaves the cache as it found it
            throw e;
        }
    }

    /** MQA over the latent: {@code H} query heads, one KV head of width {@code c + rope}, values {@code c} wide. */
    private AttentionSpec attentionSpec(Alignment alignment) {
        return AttentionSpec.builder(heads, 1, width).vHeadDim(latent).scale(scale).causal(config.causal())
                .alignment(alignment).softcap(config.softcap()).build();
    }

    /**
     * Absorbed queries {@code [B, L, H, c + rope]}: {@code [q_nope W_UK_h | rotated q_pe]} per head; token
     * {@code t} of sequence {@code b} at position {@code start[b] + t}.
     */
    private float[] absorbedQueries(FloatTensor xf, int batch, int len, int[] start) {
        int rows = batch * len;
        float[] q = queries(xf, batch, len, start);
        float[] qAbs = new float[Tensor.elementCount(rows, heads, width)];
        // q_lat_h[c] = dot(q_nope_h, W_UK_h^T[c, :]) for every head at once
        Linear.matmul(engine, heads, rows, latent, nope, q, 0, heads * qk, qk, wUkT, 0, latent * nope, null,
                qAbs, 0, heads * width, width);
        for (int row = 0; row < rows; row++) {
            for (int h = 0; h < heads; h++) {
                System.arraycopy(q, row * heads * qk + h * qk + nope, qAbs, (row * heads + h) * width + latent, rope);
            }
        }
        return qAbs;
    }

    /** Queries {@code [B, L, H, nope + rope]} with {@code q_pe} rotated; token {@code t} of sequence {@code b} at {@code start[b] + t}. */
    private float[] queries(FloatTensor xf, int batch, int len, int[] start) {
        int rows = batch * len;
        float[] q; // [rows, H*(nope+rope)]
        if (config.qLoraRank() == 0) {
            q = Linear.linear(engine, xf.data(), xf.offset(), rows, hidden, wQ, null, heads * qk);
        } else {
            int r = config.qLoraRank();
            float[] qa = Linear.linear(engine, xf.data(), xf.offset(), rows, hidden, wQA, null, r);
            for (int row = 0; row < rows; row++) rmsNorm(qa, row * r, r, qANorm);
            q = Linear.linear(engine, qa, 0, rows, r, wQB, null, heads * qk);
        }
        for (int row = 0; row < rows; row++) {
            int pos = start[row / Math.max(len, 1)] + row % Math.max(len, 1);
            for (int h = 0; h < heads; h++) rope(q, row * heads * qk + h * qk + nope, pos);
        }
        Linear.requireFinite("x (projected queries)", q);
        return q;
    }

    /**
     * The naive path's attention call: the latents {@code lat [B, kvLen, c + rope]} decompressed into per-head keys
     * {@code K [B, H, kvLen, nope + rope]} ({@code [c_kv W_UK_h^T | k_pe]}) and values {@code c_kv W_UV_h^T} (read in
     * place from the decompressed rows), ordinary MHA with the layer's scale over queries {@code q [B, Lq, H, nope + rope]}.
     */
    private AttentionCall naiveCall(float[] q, int batch, int qLen, Alignment alignment, float[] lat, int kvLen, int[] lengths) {
        int rows = batch * kvLen;
        int kvWidth = nope + vDim;
        float[] kv = new float[Tensor.elementCount(rows, heads, kvWidth)]; // c_kv W_kv_b^T: [B, kvLen, H, nope + v]
        Linear.matmul(engine, 1, rows, heads * kvWidth, latent, lat, 0, width, 0, wKvB, 0, 0, null, kv, 0, heads * kvWidth, 0);
        float[] k = new float[Tensor.elementCount(batch, heads, kvLen, qk)];
        for (int row = 0; row < rows; row++) {
            int b = row / kvLen;
            int j = row % kvLen;
            for (int h = 0; h < heads; h++) {
                int at = ((b * heads + h) * kvLen + j) * qk;
                System.arraycopy(kv, (row * heads + h) * kvWidth, k, at, nope);
                System.arraycopy(lat, row * width + latent, k, at + nope, rope);
            }
        }
        AttentionSpec spec = AttentionSpec.builder(heads, heads, qk).vHeadDim(vDim).scale(scale).causal(config.causal())
                .alignment(alignment).softcap(config.softcap()).build();
        AttentionCall c = new AttentionCall().spec(spec, batch, qLen).queries(q, 0, qLen * heads * qk, qk, heads * qk);
        c.kv = new KvSource.Strided(k, 0, heads * kvLen * qk, kvLen * qk, qk,
                kv, nope, kvLen * heads * kvWidth, kvWidth, heads * kvWidth, lengths);
        return c;
    }

    /** Runs the naive call into {@code o [B, L, H, v]}, then {@code w_o}. */
    private FloatTensor attendNaiveAndProject(AttentionCall c, int batch, int len) {
        int rows = batch * len;
        float[] ov = new float[Tensor.elementCount(rows, heads, vDim)];
        c.output(ov, 0, len * heads * vDim, vDim, heads * vDim);
        engine.run(c, () -> FlashEngine.magnitudesOf(c, "x (projected queries)", "x (decompressed keys)", "x (decompressed values)"),
                "layer attention");
        float[] y = Linear.linear(engine, ov, 0, rows, heads * vDim, wO, null, hidden);
        Linear.requireFinite("y = attention·w_o (x or w_o beyond the float32-safe range)", y);
        return FloatTensor.of(y, batch, len, hidden);
    }

    /** Latents {@code [B, L, c + rope]}: {@code RMSNorm(c_raw) * kv_a_norm}, then rotated {@code k_pe}. */
    private float[] latents(FloatTensor xf, int batch, int len, int[] start) {
        int rows = batch * len;
        float[] lat = Linear.linear(engine, xf.data(), xf.offset(), rows, hidden, wKvA, null, width);
        for (int row = 0; row < rows; row++) {
            int pos = start[row / Math.max(len, 1)] + row % Math.max(len, 1);
            rmsNorm(lat, row * width, latent, kvANorm);
            rope(lat, row * width + latent, pos);
        }
        return lat;
    }

    /** {@code x / sqrt(mean(x^2) + eps) * weight}, in place. */
    private void rmsNorm(float[] x, int off, int n, float[] weight) {
        double meanSquare = (double) engine.kernels().dot(x, off, x, off, n) / n;
        float inv = (float) (1.0 / Math.sqrt(meanSquare + config.rmsEps()));
        for (int i = 0; i < n; i++) x[off + i] = x[off + i] * inv * weight[i];
    }

    /** RoPE on {@code v[off .. off+rope)} at position {@code pos}: pair {@code i} turns by {@code pos * theta^(-2i/rope)}. */
    private void rope(float[] v, int off, int pos) {
        int half = rope / 2;
        boolean interleaved = config.ropeInterleaved();
        for (int i = 0; i < half; i++) {
            double angle = pos * invFreq[i];
            double cos = StrictMath.cos(angle);
            double sin = StrictMath.sin(angle);
            int ia = off + (interleaved ? 2 * i : i);
            int ib = off + (interleaved ? 2 * i + 1 : i + half);
            double a = v[ia];
            double b = v[ib];
            v[ia] = (float) (a * cos - b * sin);
            v[ib] = (float) (b * cos + a * sin);
        }
    }

    /** Attention over the latents into {@code o_lat [B, L, H, c]}, then {@code W_UV} per head and {@code w_o}. */
    private FloatTensor attendAndProject(AttentionCall c, int batch, int len) {
        int rows = batch * len;
        float[] oLat = new float[Tensor.elementCount(rows, heads, latent)];
        c.output(oLat, 0, len * heads * latent, latent, heads * latent);
        engine.run(c, () -> FlashEngine.magnitudesOf(c, "x (absorbed queries)", "x (latents)", "x (latents)"), "layer attention");
        float[] ov = new float[Tensor.elementCount(rows, heads, vDim)];
        // out_h[m] = dot(W_UV_h[m, :], o_lat_h): W_UV_h rows start at (h(nope+v) + nope) * c in w_kv_b
        Linear.matmul(engine, heads, rows, vDim, latent, oLat, 0, heads * latent, latent, wKvB, nope * latent,
                (nope + vDim) * latent, null, ov, 0, heads * vDim, vDim);
        float[] y = Linear.linear(engine, ov, 0, rows, heads * vDim, wO, null, hidden);
        Linear.requireFinite("y = attention·w_o (x or w_o beyond the float32-safe range)", y);
        return FloatTensor.of(y, batch, len, hidden);
    }

    @Override
    public void close() {
        engine.pool().close();
    }
}
