package org.attn4j.reference;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.MaskMod;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.ScoreMod;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Tensor;

/**
 * A test oracle for float32 backends: attention and the layers of FORMAT.md computed the obvious way in
 * {@code float}. It says how much error float32 arithmetic naturally makes on a case, which sizes the accuracy
 * rule of FlashAttention's tests that the TCK and the kernels' tests apply:
 * {@code max|backend - ref64| <= 2 max|naive32 - ref64| + 1e-6}, with {@code ref64} the float64
 * {@link ReferenceAttention}. The truth is always the float64 reference; this class only calibrates the tolerance.
 *
 * <p>It mirrors {@link ReferenceAttention}, {@link ReferenceStandardLayer} and the naive path of
 * {@link org.attn4j.reference.mla.ReferenceMlaLayer} line for line, with every value a {@code float}: FORMAT.md's
 * five score steps in order, one query row at a time, one accumulator per dot product, no tiling, no online
 * softmax, no fused multiply-add. {@code exp}, {@code log}, {@code tanh}, {@code cos} and {@code sin} are
 * evaluated in double and rounded to float, as a float32 {@code libm} call would be. It is slow on purpose:
 * use it in tests only.
 */
public final class Naive32 {
    private Naive32() {
    }

    /**
     * Attention in float32.
     *
     * @param spec   what is computed
     * @param inputs {@code q [B, qHeads, qLen, headDim]}, {@code k [B, kvHeads, kvLen, headDim]},
     *               {@code v [B, kvHeads, kvLen, vHeadDim]} and the optional inputs (see {@link AttentionInputs})
     * @return {@code out [B, qHeads, qLen, vHeadDim]} and {@code lse [B, qHeads, qLen]} as {@link FloatTensor}s
     * @throws AttentionException naming the first bad argument (nothing is computed)
     */
    public static AttentionOutput attend(AttentionSpec spec, AttentionInputs inputs) {
        AttentionException.require(spec != null, "spec", "a spec", "null");
        AttentionException.require(inputs != null, "inputs", "attention inputs", "null");
        inputs.validate(spec);

        int batch = inputs.batch();
        int qHeads = spec.qHeads();
        int qLen = inputs.qLen();
        int kvLen = inputs.kvLen();
        int headDim = spec.headDim();
        int vHeadDim = spec.vHeadDim();
        int kvHeads = spec.kvHeads();
        int[] scoreShape = {batch, qHeads, qLen, kvLen};

        float[] q = inputs.q().toFloatArray();
        float[] k = inputs.k().toFloatArray();
        float[] v = inputs.v().toFloatArray();
        Tensor bias = inputs.bias() == null ? null : inputs.bias().broadcastTo(scoreShape);
        BoolTensor mask = inputs.mask() == null ? null : inputs.mask().broadcastTo(scoreShape);
        float[] slopes = inputs.alibiSlopes() == null ? null : inputs.alibiSlopes().toFloatArray();
        float[] sinks = inputs.sinks() == null ? null : inputs.sinks().toFloatArray();
        int[] kvLens = inputs.kvLens() == null ? null : inputs.kvLens().toIntArray();
        ScoreMod scoreMod = inputs.scoreMod();
        MaskMod maskMod = inputs.maskMod();

        float scale = (float) spec.effectiveScale();
        float softcap = (float) spec.softcap();

        float[] out = new float[Tensor.elementCount(batch, qHeads, qLen, vHeadDim)];
        float[] lse = new float[Tensor.elementCount(batch, qHeads, qLen)];
        float[] s = new float[kvLen];
        boolean[] visible = new boolean[kvLen];

        for (int b = 0; b < batch; b++) {
            int lkB = kvLens == null ? kvLen : kvLens[b];
            for (int h = 0; h < qHeads; h++) {
                int kvh = spec.kvHeadOf(h);
                for (int i = 0; i < qLen; i++) {
                    int row = (b * qHeads + h) * qLen + i;            // index of (b, h, i) in [B, Hq, Lq]
                    int qAt = row * headDim;                          // q[b, h, i, :]
                    int d = spec.alignment().diagonal(i, qLen, lkB);  // this query's diagonal d_i
                    boolean anyVisible = false;
                    for (int j = 0; j < kvLen; j++) {
                        // Step 4 (visibility) is decided first: a hidden key's score is -inf whatever steps 1-3 give.
                        visible[j] = j < lkB
                                && (!spec.causal() || j <= d)
                                && spec.window().contains(d, j)
                                && (mask == null || mask.atStorage(at(mask, b, h, i, j)))
                                && (maskMod == null || maskMod.visible(b, h, i, j));
                        if (!visible[j]) continue;
                        anyVisible = true;
                        int kAt = ((b * kvHeads + kvh) * kvLen + j) * headDim;  // k[b, kvh, j, :]
                        // 1. scaled dot product
                        float dot = 0f;
                        for (int c = 0; c < headDim; c++) dot += q[qAt + c] * k[kAt + c];
                        float score = scale * dot;
                        // 2. softcap
                        if (softcap > 0f) score = softcap * (float) Math.tanh(score / softcap);
                        // 3. additive bias, then ALiBi, then a score_mod
                        if (bias != null) score += (float) bias.doubleAtStorage(at(bias, b, h, i, j));
                        if (slopes != null) score -= slopes[h] * (float) Math.abs(d - j);
                        if (scoreMod != null) {
                            double modded = scoreMod.apply(score, b, h, i, j);
                            if (!Double.isFinite(modded)) {
                                throw AttentionException.invalid("scoreMod(b=" + b + ", h=" + h + ", i=" + i + ", j=" + j + ")",
                                        "a finite score (hide keys with a maskMod)", modded);
                            }
                            score = (float) modded;
                        }
                        s[j] = score;
                    }

                    // 5. softmax over j; the sink (if any) is one more denominator term that has no value.
                    float sink = sinks == null ? Float.NEGATIVE_INFINITY : sinks[h];
                    if (!anyVisible) {
                        lse[row] = sink;                              // out stays 0; lse = log(exp(sink)) or -inf
                        continue;
                    }
                    float m = sink;
                    for (int j = 0; j < kvLen; j++) if (visible[j]) m = Math.max(m, s[j]);
                    float denominator = sinks == null ? 0f : (float) Math.exp(sink - m);
                    for (int j = 0; j < kvLen; j++) {
                        if (visible[j]) {
                            s[j] = (float) Math.exp(s[j] - m);        // s now holds the unnormalised weights
                            denominator += s[j];
                        }
                    }
                    int outAt = row * vHeadDim;                       // out[b, h, i, :]
                    for (int j = 0; j < kvLen; j++) {
                        if (!visible[j]) continue;
                        float p = s[j] / denominator;
                        int vAt = ((b * kvHeads + kvh) * kvLen + j) * vHeadDim;  // v[b, kvh, j, :]
                        for (int c = 0; c < vHeadDim; c++) out[outAt + c] += p * v[vAt + c];
                    }
                    lse[row] = m + (float) Math.log(denominator);
                }
            }
        }
        return new AttentionOutput(FloatTensor.of(out, batch, qHeads, qLen, vHeadDim), FloatTensor.of(lse, batch, qHeads, qLen));
    }

    /**
     * An MHA/MQA/GQA layer in float32 (FORMAT.md "kind = layer"): project, split heads, attend, merge, project.
     *
     * @param x              {@code [B, qLen, hidden]}
     * @param kvX            {@code [B, kvLen, hidden]}, or {@code null} for self-attention ({@code kvX = x})
     * @param keyPaddingMask {@code [B, kvLen]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, qLen, hidden]}
     */
    public static FloatTensor standardLayer(StandardLayerConfig config, StandardLayerWeights weights, Tensor x, Tensor kvX,
                                            BoolTensor keyPaddingMask) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        AttentionException.require(weights != null, "weights", "layer weights", "null");
        weights.validate(config);
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        int qLen = x.size(1);
        if (kvX != null) config.requireActivations("kvX", kvX, batch);
        Tensor memory = kvX == null ? x : kvX;
        int kvLen = memory.size(1);
        int hidden = config.hidden();
        int headDim = config.headDim();
        float[] q = linear(x.toFloatArray(), batch * qLen, hidden, weights.wq(), weights.bq());
        float[] k = linear(memory.toFloatArray(), batch * kvLen, hidden, weights.wk(), weights.bk());
        float[] v = linear(memory.toFloatArray(), batch * kvLen, hidden, weights.wv(), weights.bv());
        AttentionInputs inputs = AttentionInputs.of(
                splitHeads(q, batch, qLen, config.qHeads(), headDim),
                splitHeads(k, batch, kvLen, config.kvHeads(), headDim),
                splitHeads(v, batch, kvLen, config.kvHeads(), headDim));
        if (keyPaddingMask != null) inputs = inputs.withMask(keyMask(keyPaddingMask, batch, kvLen));
        FloatTensor attended = (FloatTensor) attend(config.attentionSpec(), inputs).out();
        float[] y = linear(mergeHeads(attended), batch * qLen, config.qHeads() * headDim, weights.wo(), weights.bo());
        return FloatTensor.of(y, batch, qLen, hidden);
    }

    /**
     * An MLA layer in float32 on the naive path (decompress the latents into per-head K and V, then ordinary
     * attention), FORMAT.md "variant mla". Token {@code t} sits at position {@code position_offset + t}.
     *
     * @param x              {@code [B, L, hidden]}
     * @param keyPaddingMask {@code [B, L]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, L, hidden]}
     */
    public static FloatTensor mlaLayer(MlaLayerConfig config, MlaLayerWeights weights, Tensor x, BoolTensor keyPaddingMask) {
        AttentionException.require(config != null, "config", "an MLA layer config", "null");
        AttentionException.require(weights != null, "weights", "MLA layer weights", "null");
        weights.validate(config);
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        int len = x.size(1);
        int hidden = config.hidden();
        int heads = config.qHeads();
        int nope = config.qkNopeHeadDim();
        int rope = config.qkRopeHeadDim();
        int qkDim = config.qkHeadDim();
        int vDim = config.vHeadDim();
        int latent = config.kvLoraRank();
        int width = latent + rope;
        float[] xs = x.toFloatArray();

        // Queries [B*L, H*(nope+rope)], through the query LoRA when there is one.
        float[] q;
        if (config.qLoraRank() == 0) {
            q = linear(xs, batch * len, hidden, weights.wQ(), null);
        } else {
            int r = config.qLoraRank();
            float[] qa = linear(xs, batch * len, hidden, weights.wQA(), null);
            float[] norm = weights.qANorm().toFloatArray();
            for (int row = 0; row < batch * len; row++) rmsNorm(qa, row * r, r, norm, config.rmsEps());
            q = linear(qa, batch * len, r, weights.wQB(), null);
        }
        // Latents [B*L, c + rope]: normalised c_kv, then k_pe; RoPE on k_pe and on every head's q_pe.
        float[] latents = linear(xs, batch * len, hidden, weights.wKvA(), null);
        float[] kvNorm = weights.kvANorm().toFloatArray();
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                long position = (long) config.positionOffset() + t;
                int row = b * len + t;
                rmsNorm(latents, row * width, latent, kvNorm, config.rmsEps());
                rotate(latents, row * width + latent, rope, position, config.ropeTheta(), config.ropeInterleaved());
                for (int h = 0; h < heads; h++) {
                    rotate(q, (row * heads + h) * qkDim + nope, rope, position, config.ropeTheta(), config.ropeInterleaved());
                }
            }
        }
        // Decompress: per head K_h = [c_kv W_UK_h^T | k_pe], V_h = c_kv W_UV_h^T.
        float[] wKvB = weights.wKvB().toFloatArray();                 // [H*(nope+v), c]
        float[] k = new float[Tensor.elementCount(batch, heads, len, qkDim)];
        float[] v = new float[Tensor.elementCount(batch, heads, len, vDim)];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < len; j++) {
                int cAt = (b * len + j) * width;                      // c_kv[b, j], then k_pe at + latent
                for (int h = 0; h < heads; h++) {
                    int kAt = ((b * heads + h) * len + j) * qkDim;    // K[b, h, j, :]
                    int vAt = ((b * heads + h) * len + j) * vDim;     // V[b, h, j, :]
                    int wUk = h * (nope + vDim) * latent;             // first row of W_UK_h
                    int wUv = wUk + nope * latent;                    // first row of W_UV_h
                    for (int m = 0; m < nope; m++) k[kAt + m] = dot(wKvB, wUk + m * latent, latents, cAt, latent);
                    System.arraycopy(latents, cAt + latent, k, kAt + nope, rope);
                    for (int m = 0; m < vDim; m++) v[vAt + m] = dot(wKvB, wUv + m * latent, latents, cAt, latent);
                }
            }
        }
        AttentionInputs inputs = AttentionInputs.of(splitHeads(q, batch, len, heads, qkDim),
                FloatTensor.of(k, batch, heads, len, qkDim), FloatTensor.of(v, batch, heads, len, vDim));
        if (keyPaddingMask != null) inputs = inputs.withMask(keyMask(keyPaddingMask, batch, len));
        FloatTensor attended = (FloatTensor) attend(config.attentionSpec(), inputs).out();
        return FloatTensor.of(linear(mergeHeads(attended), batch * len, heads * vDim, weights.wO(), null), batch, len, hidden);
    }

    /** {@code x [rows, in]} times {@code w^T} ({@code w [out, in]}) plus {@code bias [out]}, accumulated in float. */
    private static float[] linear(float[] x, int rows, int in, Tensor w, Tensor bias) {
        int out = w.size(0);
        float[] wd = w.toFloatArray();
        float[] bd = bias == null ? null : bias.toFloatArray();
        float[] y = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                float acc = bd == null ? 0f : bd[o];
                for (int i = 0; i < in; i++) acc += x[r * in + i] * wd[o * in + i];
                y[r * out + o] = acc;
            }
        }
        return y;
    }

    private static float dot(float[] a, int aAt, float[] b, int bAt, int n) {
        float acc = 0f;
        for (int i = 0; i < n; i++) acc += a[aAt + i] * b[bAt + i];
        return acc;
    }

    /** RMSNorm of {@code x[at, at + n)} in place: {@code x / sqrt(mean(x^2) + eps) * weight}. */
    private static void rmsNorm(float[] x, int at, int n, float[] weight, double eps) {
        float sumSquares = 0f;
        for (int i = 0; i < n; i++) sumSquares += x[at + i] * x[at + i];
        float rms = (float) Math.sqrt(sumSquares / n + (float) eps);
        for (int i = 0; i < n; i++) x[at + i] = x[at + i] / rms * weight[i];
    }

    /** RoPE on {@code v[at, at + dim)}: pair {@code i} is {@code (2i, 2i+1)} when interleaved, else {@code (i, i + dim/2)}. */
    private static void rotate(float[] v, int at, int dim, long position, double theta, boolean interleaved) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            double angle = position * Math.pow(theta, -2.0 * i / dim);
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            int ia = at + (interleaved ? 2 * i : i);
            int ib = at + (interleaved ? 2 * i + 1 : i + half);
            float a = v[ia];
            float b = v[ib];
            v[ia] = a * cos - b * sin;
            v[ib] = b * cos + a * sin;
        }
    }

    /** {@code [B*L, H*D]} row-major to {@code [B, H, L, D]}. */
    private static FloatTensor splitHeads(float[] x, int batch, int len, int heads, int dim) {
        float[] out = new float[x.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(x, ((b * len + t) * heads + h) * dim, out, ((b * heads + h) * len + t) * dim, dim);
                }
            }
        }
        return FloatTensor.of(out, batch, heads, len, dim);
    }

    /** {@code [B, H, L, D]} to {@code [B*L, H*D]} row-major. */
    private static float[] mergeHeads(FloatTensor t) {
        return t.permute(0, 2, 1, 3).toFloatArray();
    }

    /** A key padding mask {@code [B, L]} as the attention mask {@code [B, 1, 1, L]}. */
    private static BoolTensor keyMask(BoolTensor keyPaddingMask, int batch, int kvLen) {
        keyPaddingMask.requireShape("keyPaddingMask", batch, kvLen);
        return keyPaddingMask.copy().reshape(batch, 1, 1, kvLen);
    }

    /** Storage index of element {@code [b, h, i, j]} of a rank-4 (broadcast) view. */
    private static int at(Tensor t, int b, int h, int i, int j) {
        return t.offset() + b * t.stride(0) + h * t.stride(1) + i * t.stride(2) + j * t.stride(3);
    }
}
