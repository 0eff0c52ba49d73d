package org.attn4j.reference;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.MaskMod;
import org.attn4j.api.ScoreMod;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.Tensor;

/**
 * The float64 ground truth of attention: FORMAT.md's five score steps, written as straight loops in
 * {@code double}, one query row at a time. Slow and obvious on purpose; every other backend is checked
 * against it.
 *
 * <pre>{@code
 * AttentionOutput o = ReferenceAttention.attend(AttentionSpec.builder(8, 2, 64).causal().build(),
 *         AttentionInputs.of(q, k, v).withKvLens(5, 7));
 * }</pre>
 */
public final class ReferenceAttention {
    private ReferenceAttention() {
    }

    /**
     * Attention of {@code inputs} under {@code spec}. Inputs may be float32 (widened exactly) or float64.
     *
     * @param spec   what is computed
     * @param inputs {@code q [B, qHeads, qLen, headDim]}, {@code k [B, kvHeads, kvLen, headDim]},
     *               {@code v [B, kvHeads, kvLen, vHeadDim]} and the optional bias, mask, ALiBi slopes, sinks
     *               and kv_lens (see {@link AttentionInputs})
     * @return {@code out} as a {@link DoubleTensor} {@code [B, qHeads, qLen, vHeadDim]} and {@code lse} as a
     *         {@link DoubleTensor} {@code [B, qHeads, qLen]}
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

        // Exact float64 row-major copies (float32 widens exactly), so the loops below index plain arrays.
        double[] q = inputs.q().toDoubleArray();
        double[] k = inputs.k().toDoubleArray();
        double[] v = inputs.v().toDoubleArray();
        // NumPy broadcasting is a view with zero strides: index it as if it were [B, Hq, Lq, Lk].
        Tensor bias = inputs.bias() == null ? null : inputs.bias().broadcastTo(scoreShape);
        BoolTensor mask = inputs.mask() == null ? null : inputs.mask().broadcastTo(scoreShape);
        double[] slopes = inputs.alibiSlopes() == null ? null : inputs.alibiSlopes().toDoubleArray();
        double[] sinks = inputs.sinks() == null ? null : inputs.sinks().toDoubleArray();
        int[] kvLens = inputs.kvLens() == null ? null : inputs.kvLens().toIntArray();
        ScoreMod scoreMod = inputs.scoreMod();
        MaskMod maskMod = inputs.maskMod();

        double scale = spec.effectiveScale();
        double softcap = spec.softcap();

        double[] out = new double[Tensor.elementCount(batch, qHeads, qLen, vHeadDim)];
        double[] lse = new double[Tensor.elementCount(batch, qHeads, qLen)];
        double[] s = new double[kvLen];
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
                        if (!visible[j]) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        anyVisible = true;
                        int kAt = ((b * kvHeads + kvh) * kvLen + j) * headDim;  // k[b, kvh, j, :]
                        // 1. scaled dot product
                        double dot = 0;
                        for (int c = 0; c < headDim; c++) dot += q[qAt + c] * k[kAt + c];
                        double score = scale * dot;
                        // 2. softcap
                        if (softcap > 0) score = softcap * Math.tanh(score / softcap);
                        // 3. additive bias, then ALiBi
                        if (bias != null) score += bias.doubleAtStorage(at(bias, b, h, i, j));
                        if (slopes != null) score -= slopes[h] * Math.abs((double) d - j);
                        // ... and last in step 3, a FlexAttention-style score_mod
                        if (scoreMod != null) {
                            score = scoreMod.apply(score, b, h, i, j);
                            if (!Double.isFinite(score)) {
                                throw AttentionException.invalid("scoreMod(b=" + b + ", h=" + h + ", i=" + i + ", j=" + j + ")",
                                        "a finite score (hide keys with a maskMod)", score);
                            }
                        }
                        s[j] = score;
                    }

                    // 5. softmax over j; the sink (if any) is one more denominator term that has no value.
                    double sink = sinks == null ? Double.NEGATIVE_INFINITY : sinks[h];
                    if (!anyVisible) {
                        // No key: out stays 0 (never NaN); lse = log(exp(sink)) = sink, or log(0) = -inf.
                        lse[row] = sink;
                        continue;
                    }
                    // Subtract the max over the visible scores and the sink so that no exp overflows.
                    double m = sink;
                    for (int j = 0; j < kvLen; j++) if (visible[j]) m = Math.max(m, s[j]);
                    double denominator = sinks == null ? 0 : Math.exp(sink - m);
                    for (int j = 0; j < kvLen; j++) {
                        if (visible[j]) {
                            s[j] = Math.exp(s[j] - m);                // s now holds the unnormalised weights
                            denominator += s[j];
                        }
                    }
                    int outAt = row * vHeadDim;                       // out[b, h, i, :]
                    for (int j = 0; j < kvLen; j++) {
                        if (!visible[j]) continue;
                        double p = s[j] / denominator;
                        int vAt = ((b * kvHeads + kvh) * kvLen + j) * vHeadDim;  // v[b, kvh, j, :]
                        for (int c = 0; c < vHeadDim; c++) out[outAt + c] += p * v[vAt + c];
                    }
                    lse[row] = m + Math.log(denominator);
                }
            }
        }
        return new AttentionOutput(DoubleTensor.of(out, batch, qHeads, qLen, vHeadDim), DoubleTensor.of(lse, batch, qHeads, qLen));
    }

    /** Storage index of element {@code [b, h, i, j]} of a rank-4 (broadcast) view. */
    private static int at(Tensor t, int b, int h, int i, int j) {
        return t.offset() + b * t.stride(0) + h * t.stride(1) + i * t.stride(2) + j * t.stride(3);
    }
}
