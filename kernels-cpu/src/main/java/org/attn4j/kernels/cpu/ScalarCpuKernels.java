package org.attn4j.kernels.cpu;

/**
 * Plain-Java loops: the fallback when the Vector API is unavailable or disabled
 * ({@code -Dattn4j.cpu.vector=false}). Dot products keep four independent accumulators, so the JIT can
 * overlap the multiply-adds (as Lucene's {@code DefaultVectorUtilSupport}). Transcendentals use
 * {@code StrictMath}, whose results do not depend on the JIT tier.
 */
public final class ScalarCpuKernels implements CpuKernelSupport {

    public static final ScalarCpuKernels INSTANCE = new ScalarCpuKernels();

    private ScalarCpuKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int e = 0;
        for (int bound = n & ~3; e < bound; e += 4) {
            s0 += a[aOff + e] * b[bOff + e];
            s1 += a[aOff + e + 1] * b[bOff + e + 1];
            s2 += a[aOff + e + 2] * b[bOff + e + 2];
            s3 += a[aOff + e + 3] * b[bOff + e + 3];
        }
        for (; e < n; e++) s0 += a[aOff + e] * b[bOff + e];
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void dotScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                          float[] k, int kOff, int kStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) s[sr + c] = scale * dot(q, qr, k, kOff + c * kStride, d);
        }
    }

    @Override
    public void transposedScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                 float[] kt, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) s[sr + c] = 0f;
            // e outer, c inner: walks each key-column strip contiguously
            for (int e = 0; e < d; e++) {
                float qe = q[qr + e];
                int kb = ktOff + e * ktStride;
                for (int c = 0; c < n; c++) s[sr + c] += qe * kt[kb + c];
            }
            for (int c = 0; c < n; c++) s[sr + c] *= scale;
        }
    }

    @Override
    public void softcap(float[] a, int off, int n, float cap) {
        for (int c = 0; c < n; c++) a[off + c] = cap * (float) StrictMath.tanh(a[off + c] / cap);
    }

    @Override
    public void addStrided(float[] a, int off, int n, float[] src, int srcOff, int srcStride) {
        for (int c = 0; c < n; c++) a[off + c] += src[srcOff + c * srcStride];
    }

    @Override
    public float max(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < n; c++) m = Math.max(m, a[off + c]);
        return m;
    }

    @Override
    public float expShiftSum(float[] a, int off, int n, float shift) {
        float sum = 0;
        for (int c = 0; c < n; c++) {
            float p = (float) StrictMath.exp(a[off + c] - shift);
            a[off + c] = p;
            sum += p;
        }
        return sum;
    }

    @Override
    public void scaleInto(float[] src, int srcOff, int n, float factor, float[] dst, int dstOff) {
        for (int c = 0; c < n; c++) dst[dstOff + c] = factor * src[srcOff + c];
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int c = 0; c < n; c++) y[yOff + c] += alpha * x[xOff + c];
    }

    @Override
    public void accumulateRows(int rows, int n, int dv, float[] p, int pOff, int pStride,
                               float[] v, int vOff, int vStride, float[] o, int oOff, int oStride, float[] oScale) {
        for (int r = 0; r < rows; r++) {
            int pr = pOff + r * pStride;
            int or = oOff + r * oStride;
            if (oScale != null && oScale[r] != 1f) {
                for (int e = 0; e < dv; e++) o[or + e] *= oScale[r];
            }
            for (int c = 0; c < n; c++) {
                float pc = p[pr + c];
                if (pc == 0f) continue; // hidden keys contribute nothing
                int vr = vOff + c * vStride;
                for (int e = 0; e < dv; e++) o[or + e] += pc * v[vr + e];
            }
        }
    }

    /** A float16 ({@code bf16 == false}) or bfloat16 bit pattern as float32 (exact). */
    static float half(short bits, boolean bf16) {
        return bf16 ? Float.intBitsToFloat(bits << 16) : Float.float16ToFloat(bits);
    }

    static float dotHalf(float[] a, int aOff, short[] b, int bOff, int n, boolean bf16) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int e = 0;
        for (int bound = n & ~3; e < bound; e += 4) {
            s0 += a[aOff + e] * half(b[bOff + e], bf16);
            s1 += a[aOff + e + 1] * half(b[bOff + e + 1], bf16);
            s2 += a[aOff + e + 2] * half(b[bOff + e + 2], bf16);
            s3 += a[aOff + e + 3] * half(b[bOff + e + 3], bf16);
        }
        for (; e < n; e++) s0 += a[aOff + e] * half(b[bOff + e], bf16);
        return (s0 + s1) + (s2 + s3);
    }

    static float dotInt8(float[] a, int aOff, byte[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int e = 0;
        for (int bound = n & ~3; e < bound; e += 4) {
            s0 += a[aOff + e] * b[bOff + e];
            s1 += a[aOff + e + 1] * b[bOff + e + 1];
            s2 += a[aOff + e + 2] * b[bOff + e + 2];
            s3 += a[aOff + e + 3] * b[bOff + e + 3];
        }
        for (; e < n; e++) s0 += a[aOff + e] * b[bOff + e];
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void dotScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                              short[] k, boolean bf16, int kOff, int kStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) s[sr + c] = scale * dotHalf(q, qr, k, kOff + c * kStride, d, bf16);
        }
    }

    @Override
    public void dotScoresInt8(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                              byte[] k, float[] kScales, int pitch, int kOff, int kStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) {
                int kr = kOff + c * kStride;
                s[sr + c] = scale * (kScales[kr / pitch] * dotInt8(q, qr, k, kr, d));
            }
        }
    }

    @Override
    public void transposedScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                     short[] kt, boolean bf16, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) s[sr + c] = 0f;
            for (int e = 0; e < d; e++) {
                float qe = q[qr + e];
                int kb = ktOff + e * ktStride;
                for (int c = 0; c < n; c++) s[sr + c] += qe * half(kt[kb + c], bf16);
            }
            for (int c = 0; c < n; c++) s[sr + c] *= scale;
        }
    }

    @Override
    public void accumulateRowsHalf(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                   short[] v, boolean bf16, int vOff, int vStride, float[] o, int oOff, int oStride,
                                   float[] oScale) {
        for (int r = 0; r < rows; r++) {
            int pr = pOff + r * pStride;
            int or = oOff + r * oStride;
            if (oScale != null && oScale[r] != 1f) {
                for (int e = 0; e < dv; e++) o[or + e] *= oScale[r];
            }
            for (int c = 0; c < n; c++) {
                float pc = p[pr + c];
                if (pc == 0f) continue; // hidden keys contribute nothing
                int vr = vOff + c * vStride;
                for (int e = 0; e < dv; e++) o[or + e] += pc * half(v[vr + e], bf16);
            }
        }
    }

    @Override
    public void accumulateRowsInt8(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                   byte[] v, float[] vScales, int pitch, int vOff, int vStride, float[] o, int oOff,
                                   int oStride, float[] oScale) {
        for (int r = 0; r < rows; r++) {
            int pr = pOff + r * pStride;
            int or = oOff + r * oStride;
            if (oScale != null && oScale[r] != 1f) {
                for (int e = 0; e < dv; e++) o[or + e] *= oScale[r];
            }
            for (int c = 0; c < n; c++) {
                int vr = vOff + c * vStride;
                float pc = p[pr + c] * vScales[vr / pitch]; // the row's scale folded into its weight
                if (pc == 0f) continue;
                for (int e = 0; e < dv; e++) o[or + e] += pc * v[vr + e];
            }
        }
    }
}
