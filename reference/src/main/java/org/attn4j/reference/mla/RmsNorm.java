package org.attn4j.reference.mla;

import org.attn4j.api.AttentionException;

/** {@code RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight}, the normalisation MLA applies to its latents. */
public final class RmsNorm {
    private RmsNorm() {
    }

    /**
     * Normalises {@code x[offset .. offset + n)} in place.
     *
     * @param x      storage
     * @param offset first element
     * @param n      width, {@code >= 1}
     * @param weight {@code [n]} per-element gain
     * @param eps    added to the mean square, {@code > 0}
     */
    public static void apply(double[] x, int offset, int n, double[] weight, double eps) {
        AttentionException.require(n >= 1, "n", ">= 1", n);
        AttentionException.require(weight != null && weight.length == n, "weight.length", n, weight == null ? "null" : weight.length);
        double sumSquares = 0;
        for (int i = 0; i < n; i++) sumSquares += x[offset + i] * x[offset + i];
        double rms = Math.sqrt(sumSquares / n + eps);
        for (int i = 0; i < n; i++) x[offset + i] = x[offset + i] / rms * weight[i];
    }
}
