package org.attn4j.kernels.cpu;

/**
 * The float32 loops the CPU attention engine is built from, in two implementations chosen once at run time
 * (Lucene's {@code VectorUtilSupport} pattern): {@link ScalarCpuKernels} (plain Java, always available) and
 * {@code org.attn4j.kernels.cpu.vector.VectorCpuKernels} (JDK Vector API). {@link CpuKernels#get()} picks one.
 *
 * <p>Internal to attn4j: public only so that the vector package can implement it and benchmarks/tests can
 * pass a specific implementation to {@link CpuBackend#CpuBackend(CpuKernelSupport, CpuTuning)}.
 *
 * <p>All arrays are flat; every operation takes explicit offsets and strides (in floats) and never allocates.
 * "Row {@code r}" of an operand starts at {@code off + r * stride}.
 */
public interface CpuKernelSupport {

    /** Short name for logs, e.g. {@code scalar} or {@code vector(512 bits)}. */
    String name();

    /** Floats per vector step of the inner loops (1 for plain Java): a boundary the conformance suite tests around. */
    default int lanes() {
        return 1;
    }

    /** {@code sum_{e<n} a[aOff+e] * b[bOff+e]}. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * Scores against row-major keys (also a matrix product {@code x W^T}): for {@code r < rows}, {@code c < n}
     * <pre>s[sOff + r*sStride + c] = scale * dot(q[qOff + r*qStride ..+d], k[kOff + c*kStride ..+d])</pre>
     */
    void dotScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                   float[] k, int kOff, int kStride, float[] s, int sOff, int sStride);

    /**
     * Scores against transposed keys {@code kt [d][ktStride]} (column {@code c} is one key): for
     * {@code r < rows}, {@code c < n}
     * <pre>s[sOff + r*sStride + c] = scale * sum_{e<d} q[qOff + r*qStride + e] * kt[ktOff + e*ktStride + c]</pre>
     */
    void transposedScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                          float[] kt, int ktOff, int ktStride, float[] s, int sOff, int sStride);

    /** {@code a[off+c] = cap * tanh(a[off+c] / cap)} for {@code c < n}. */
    void softcap(float[] a, int off, int n, float cap);

    /** {@code a[off+c] += src[srcOff + c*srcStride]} for {@code c < n} ({@code srcStride} may be 0 or 1 or any). */
    void addStrided(float[] a, int off, int n, float[] src, int srcOff, int srcStride);

    /** The largest of {@code a[off..off+n)}; {@code -inf} when {@code n == 0}. */
    float max(float[] a, int off, int n);

    /** {@code a[off+c] = exp(a[off+c] - shift)} in place (−inf becomes 0); returns the sum of the new values. */
    float expShiftSum(float[] a, int off, int n, float shift);

    /**
     * One online-softmax step (FlashAttention-2) over a tile of scores, for {@code rows} rows at once. Row
     * {@code r} holds scores {@code s[sOff + r*sStride + c]}, {@code c < n}, and its running max and sum are
     * {@code m[i]}, {@code l[i]} with {@code i = stOff + r*stStride}. Per row, with {@code t} the largest score:
     * <pre>
     * t == -inf (every key hidden): s := 0, m and l unchanged, alpha[r] = 1
     * otherwise: M = max(m, t); alpha[r] = e^(m - M); s := e^(s - M) (-inf becomes 0); l := l * alpha[r] + sum(s); m := M
     * </pre>
     * {@code alpha[r]} is the factor the row's output accumulator must be scaled by before this tile's
     * {@code P V} is added ({@link #accumulateRows} takes it): exactly 1 when the max did not grow, and 0 while
     * the row was still empty ({@code m = -inf}, the accumulator is 0). This default goes row by row through
     * {@link #max} and {@link #expShiftSum}; the vector kernels do four rows side by side.
     */
    default void onlineSoftmax(int rows, int n, float[] s, int sOff, int sStride, float[] m, float[] l, int stOff, int stStride,
                               float[] alpha) {
        for (int r = 0; r < rows; r++) {
            int off = sOff + r * sStride;
            int i = stOff + r * stStride;
            float t = max(s, off, n);
            if (t == Float.NEGATIVE_INFINITY) { // every key of this tile hidden: it contributes nothing
                alpha[r] = 1f;
                java.util.Arrays.fill(s, off, off + n, 0f);
                continue;
            }
            float old = m[i];
            float mx = Math.max(old, t);
            alpha[r] = old == mx ? 1f : (float) StrictMath.exp((double) old - mx); // e^-inf = 0 while empty
            m[i] = mx;
            l[i] = l[i] * alpha[r] + expShiftSum(s, off, n, mx);
        }
    }

    /** {@code dst[dstOff+c] = factor * src[srcOff+c]}. */
    void scaleInto(float[] src, int srcOff, int n, float factor, float[] dst, int dstOff);

    /** {@code y[yOff+c] += alpha * x[xOff+c]}. */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * Weighted sum of value rows, the {@code P V} step, after rescaling the accumulator rows: for {@code r < rows},
     * {@code e < dv}, with {@code f = oScale[r]} (1 when {@code oScale} is null)
     * <pre>o[oOff + r*oStride + e] = f * o[oOff + r*oStride + e] + sum_{c<n} p[pOff + r*pStride + c] * v[vOff + c*vStride + e]</pre>
     * The online softmax's rescaling is folded in here, where the accumulator is loaded anyway, instead of a
     * separate pass behind a data-dependent branch.
     */
    void accumulateRows(int rows, int n, int dv, float[] p, int pOff, int pStride,
                        float[] v, int vOff, int vStride, float[] o, int oOff, int oStride, float[] oScale);

    /*
     * Reduced storage (float16, bfloat16, int8 KV rows). Keys and values are converted to float32 inside the loops,
     * element by element as they are loaded, never widened into a buffer: the point is to read fewer bytes. bfloat16
     * is the upper half of a float32 ((bits & 0xFFFF) << 16); float16 converts exactly as Float.float16ToFloat; an
     * int8 row at storage index x has the scale scales[x / pitch], folded into the score or the softmax weight.
     */

    /** {@link #dotScores} over float16 ({@code bf16 == false}) or bfloat16 key rows. */
    void dotScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                       short[] k, boolean bf16, int kOff, int kStride, float[] s, int sOff, int sStride);

    /**
     * {@link #dotScores} over int8 key rows: {@code s = scale * kScale * sum_e q[e] * k[e]} with the row's scale
     * {@code kScales[(kOff + c*kStride) / pitch]}.
     */
    void dotScoresInt8(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                       byte[] k, float[] kScales, int pitch, int kOff, int kStride, float[] s, int sOff, int sStride);

    /**
     * {@link #transposedScores} over float16 ({@code bf16 == false}) or bfloat16 keys stored transposed (a
     * {@link org.attn4j.api.TiledKvCache} of that type): each loaded vector of key columns is converted once and used
     * by every query row of the block.
     */
    void transposedScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                              short[] kt, boolean bf16, int ktOff, int ktStride, float[] s, int sOff, int sStride);

    /** {@link #accumulateRows} over float16 ({@code bf16 == false}) or bfloat16 value rows. */
    void accumulateRowsHalf(int rows, int n, int dv, float[] p, int pOff, int pStride,
                            short[] v, boolean bf16, int vOff, int vStride, float[] o, int oOff, int oStride, float[] oScale);

    /** {@link #accumulateRows} over int8 value rows: each weight {@code p} is multiplied by its row's scale once. */
    void accumulateRowsInt8(int rows, int n, int dv, float[] p, int pOff, int pStride,
                            byte[] v, float[] vScales, int pitch, int vOff, int vStride, float[] o, int oOff, int oStride,
                            float[] oScale);
}
