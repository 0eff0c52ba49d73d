package org.attn4j.kernels.cpu;

import org.attn4j.api.Float32Range;

import org.attn4j.api.AttentionException;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.Tensor;

/**
 * {@code y = x W^T + b} with {@code W} in {@code nn.Linear} layout {@code [out, in]}: rows of {@code W} are
 * contiguous, so each output is one dot product of an input row with a weight row
 * ({@link CpuKernelSupport#dotScores}, four input rows per weight-row load). Runs on the plan's threads,
 * cut into blocks of rows x output columns.
 */
final class Linear {
    private static final int ROW_BLOCK = 16;
    private static final int COL_BLOCK = 64;

    private Linear() {
    }

    /**
     * A grouped product: for each group {@code g < groups}, row {@code r < rows}, output {@code o < out}
     * <pre>y[yOff + g*yGroup + r*yStride + o] = dot(x[xOff + g*xGroup + r*xStride ..+in], w[wOff + g*wGroup + o*in ..+in]) (+ bias[o])</pre>
     * (groups are e.g. the heads of MLA's per-head absorption matrices; plain layers use one group).
     */
    static void matmul(FlashEngine engine, int groups, int rows, int out, int in,
                       float[] x, int xOff, int xStride, int xGroup,
                       float[] w, int wOff, int wGroup, float[] bias,
                       float[] y, int yOff, int yStride, int yGroup) {
        if (rows == 0 || out == 0 || groups == 0) return;
        CpuKernelSupport k = engine.kernels();
        int rowBlocks = FlashEngine.ceilDiv(rows, ROW_BLOCK);
        int colBlocks = FlashEngine.ceilDiv(out, COL_BLOCK);
        int perGroup = rowBlocks * colBlocks;
        engine.pool().forEach(groups * perGroup, () -> null, (item, unused) -> {
            int g = item / perGroup;
            int rb = item % perGroup / colBlocks;
            int cb = item % colBlocks;
            int r0 = rb * ROW_BLOCK;
            int r1 = Math.min(rows, r0 + ROW_BLOCK);
            int o0 = cb * COL_BLOCK;
            int n = Math.min(out, o0 + COL_BLOCK) - o0;
            int wb = wOff + g * wGroup + o0 * in;
            for (int r = r0; r < r1; r += 4) {
                int rr = Math.min(4, r1 - r);
                int yr = yOff + g * yGroup + r * yStride + o0;
                k.dotScores(rr, n, in, 1f, x, xOff + g * xGroup + r * xStride, xStride, w, wb, in, y, yr, yStride);
                if (bias != null) {
                    for (int i = 0; i < rr; i++) k.axpy(1f, bias, o0, y, yr + i * yStride, n);
                }
            }
        });
    }

    /** {@code x [rows, in]} (contiguous) times {@code w [out, in]}, plus {@code bias [out]} or null: a new {@code [rows, out]} array. */
    static float[] linear(FlashEngine engine, float[] x, int xOff, int rows, int in, float[] w, float[] bias, int out) {
        float[] y = new float[Tensor.elementCount(rows, out)];
        matmul(engine, 1, rows, out, in, x, xOff, in, 0, w, 0, 0, bias, y, 0, out, 0);
        return y;
    }

    /** A weight as a private contiguous float32 copy (later writes to the caller's tensor cannot change a plan). */
    static float[] weight(String name, Tensor t) {
        if (t == null) return null;
        Float32Range.requireFits(name, t); // a float64 weight beyond float32 must not become +-inf
        return FloatTensor.copyOf(t).data();
    }

    /** Activations {@code [B, L, width]} as a row-major float32 tensor: {@code t} itself when it already is one. */
    static FloatTensor rows(String name, Tensor t) {
        Float32Range.requireFits(name, t);
        return t instanceof FloatTensor f && f.isContiguous() ? f : FloatTensor.copyOf(t);
    }

    /** Throws when a projection overflowed float32 (finite inputs, finite weights, infinite products). */
    static void requireFinite(String what, float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw AttentionException.invalid(what + "[" + i + "]", "a finite float32 value", a[i]);
            }
        }
    }
}
