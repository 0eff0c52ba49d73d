package org.attn4j.kernels.cpu.vector;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import org.attn4j.kernels.cpu.CpuKernelSupport;
import org.attn4j.kernels.cpu.ScalarCpuKernels;

/**
 * {@link CpuKernelSupport} on the JDK Vector API. The only package of attn4j that imports
 * {@code jdk.incubator.vector}; {@code CpuKernels} loads it reflectively, so a JVM started without
 * {@code --add-modules jdk.incubator.vector} never touches this class and falls back to scalar.
 *
 * <p>Every loop has the same anatomy (llama3.java): a vector body with FMA accumulators, one lane
 * reduction ({@link #sum}) where a sum is needed, then a scalar tail for the {@code n % lanes} leftovers. The
 * one exception is the column tail of {@link #transposedScores}: there a scalar tail would walk key columns
 * with a stride of a whole row, so it is one masked vector step instead.
 * Nothing here allocates on the heap (vectors are scalar-replaced by C2).
 *
 * <p><b>Bit-identical in every JIT tier.</b> The Vector API's {@code reduceLanes(ADD)}, {@code EXP} and
 * {@code TANH} give different bits when compiled by C2 (other summation order, SVML) than in their Java
 * fallbacks that run before compilation, so results would depend on JIT state. This class therefore sums
 * lanes with a fixed xor-butterfly ({@link #sum}) and computes {@link #exp} and {@link #tanh} from
 * add/mul/fma/convert only (Cephes {@code expf}/{@code tanhf}: at most 1 and 1.5 ulp), which are exactly
 * specified lane-wise; scalar tails use {@code StrictMath}.
 */
public final class VectorCpuKernels implements CpuKernelSupport {
    private static final VectorSpecies<Float> F = VectorConstants.FLOAT;
    private static final int L = F.length();
    private static final int L2 = 2 * L;
    private static final int L3 = 3 * L;
    private static final int L4 = 4 * L;
    private static final VectorShuffle<Float> XOR1 = xorShuffle(1);
    private static final VectorShuffle<Float> XOR2 = xorShuffle(2);
    private static final VectorShuffle<Float> XOR4 = xorShuffle(4);
    private static final VectorShuffle<Float> XOR8 = xorShuffle(8);
    private static final VectorMask<Float> BIT1 = bitMask(1);
    private static final VectorMask<Float> BIT2 = bitMask(2);
    private static final VectorMask<Float> BIT4 = bitMask(4);
    private static final VectorMask<Float> BIT8 = bitMask(8);
    /** As many 16-bit lanes as {@link #F} has floats: one float16/bfloat16 load widens to one float vector. */
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** As many bytes as {@link #F} has floats; null below 256-bit floats (no 32-bit vector shape exists). */
    private static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    /** 512-bit species means AVX-512 (or wider): 32 vector registers, room for 16 accumulators. */
    private static final boolean MANY_REGISTERS = F.vectorBitSize() >= 512;

    /**
     * @throws UnsupportedOperationException when this machine's vectors are too narrow to pay off
     *                                       (below 128 bits, as Lucene's check)
     */
    public VectorCpuKernels() {
        if (F.vectorBitSize() < 128) {
            throw new UnsupportedOperationException("vector width " + F.vectorBitSize() + " bits is below 128");
        }
    }

    /** Bits of the species in use. */
    public static int vectorBits() {
        return F.vectorBitSize();
    }

    @Override
    public String name() {
        return "vector(" + F.vectorBitSize() + " bits, " + L + " float lanes" + (VectorConstants.emulated() ? ", emulated" : "") + ")";
    }

    @Override
    public int lanes() {
        return L;
    }

    private static VectorShuffle<Float> xorShuffle(int k) {
        return VectorShuffle.fromOp(F, i -> k < L ? i ^ k : i);
    }

    /** Lanes whose index has bit {@code k} set. */
    private static VectorMask<Float> bitMask(int k) {
        boolean[] bits = new boolean[L];
        for (int i = 0; i < L; i++) bits[i] = (i & k) != 0;
        return VectorMask.fromArray(F, bits, 0);
    }

    /*
     * A "fold" (written out where it is used, see the class comment) is one level of a transposing reduction:
     * x.blend(y, BITk).add(y.blend(x, BITk).rearrange(XORk)) gives lanes without bit k x[i] + x[i^k] and lanes
     * with it y[i] + y[i^k], so two vectors' partial sums end up in one.
     */

    /** The sum of the lanes in a fixed order (a butterfly of lane-wise adds), the same in every JIT tier. */
    static float sum(FloatVector v) {
        if (L > 16) { // wider than any x86 vector: plain sequential order
            float s = 0;
            for (int i = 0; i < L; i++) s += v.lane(i);
            return s;
        }
        if (L >= 16) v = v.add(v.rearrange(XOR8));
        if (L >= 8) v = v.add(v.rearrange(XOR4));
        if (L >= 4) v = v.add(v.rearrange(XOR2));
        return v.add(v.rearrange(XOR1)).lane(0);
    }

    private static final float EXP_LO = -87.33654f;   // below: e^x is under the smallest normal float, flushed to 0
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f;      // 1.5 * 2^23: adding and subtracting it rounds to an integer
    // e^r = 1 + r + r^2 (C0 + C1 r + ... + C5 r^5) for |r| <= ln2 / 2 (Cephes expf); every exp here uses these
    private static final float EXP_C0 = 5.0000001201e-1f;
    private static final float EXP_C1 = 1.6666665459e-1f;
    private static final float EXP_C2 = 4.1665795894e-2f;
    private static final float EXP_C3 = 8.3334519073e-3f;
    private static final float EXP_C4 = 1.3981999507e-3f;
    private static final float EXP_C5 = 1.9875691500e-4f;

    /** {@code e^x} for {@code x <= 0} (including -inf, which gives 0); Cephes {@code expf}, at most 1 ulp. */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
        x = x.blend(EXP_LO, under); // = max(x, EXP_LO), one instruction instead of six
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);          // x = n ln2 + r, |r| <= ln2 / 2
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(EXP_C5, EXP_C4);
        p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
        p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
        p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
        p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
        p = p.fma(r.mul(r), r).add(1f);                               // e^r
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        FloatVector twoN = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats(); // 2^n, n in [-126, 0]
        return p.mul(twoN).blend(FloatVector.zero(F), under); // blend(0L, m) is not intrinsified: it runs as Java code
    }

    /** {@code tanh(x)}; Cephes {@code tanhf}: an odd polynomial below 0.625, else {@code (1 - e^-2|x|) / (1 + e^-2|x|)}. */
    static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector small = z.fma(-5.70498872745e-3f, 2.06390887954e-2f);
        small = small.fma(z, FloatVector.broadcast(F, -5.37397155531e-2f));
        small = small.fma(z, FloatVector.broadcast(F, 1.33314422036e-1f));
        small = small.fma(z, FloatVector.broadcast(F, -3.33332819422e-1f));
        small = small.mul(z).fma(x, x);
        FloatVector e = exp(ax.mul(-2f));
        FloatVector large = FloatVector.broadcast(F, 1f).sub(e).div(e.add(1f));
        large = large.blend(large.neg(), x.compare(VectorOperators.LT, 0f));
        return large.blend(small, ax.compare(VectorOperators.LT, 0.625f));
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        FloatVector acc3 = FloatVector.zero(F);
        int e = 0;
        // four independent FMA chains hide the FMA latency on long rows
        for (; e <= n - L4; e += L4) {
            acc0 = FloatVector.fromArray(F, a, aOff + e).fma(FloatVector.fromArray(F, b, bOff + e), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + e + L).fma(FloatVector.fromArray(F, b, bOff + e + L), acc1);
            acc2 = FloatVector.fromArray(F, a, aOff + e + L2).fma(FloatVector.fromArray(F, b, bOff + e + L2), acc2);
            acc3 = FloatVector.fromArray(F, a, aOff + e + L3).fma(FloatVector.fromArray(F, b, bOff + e + L3), acc3);
        }
        for (; e <= n - L; e += L) {
            acc0 = FloatVector.fromArray(F, a, aOff + e).fma(FloatVector.fromArray(F, b, bOff + e), acc0);
        }
        float sum = sum(acc0.add(acc1).add(acc2.add(acc3)));
        for (; e < n; e++) sum += a[aOff + e] * b[bOff + e];
        return sum;
    }

    @Override
    public void dotScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                          float[] k, int kOff, int kStride, float[] s, int sOff, int sStride) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            dot4(n, d, scale, q, qOff + r * qStride, qStride, k, kOff, kStride, s, sOff + r * sStride, sStride);
        }
        for (; r < rows; r++) {
            int qr = qOff + r * qStride;
            int sr = sOff + r * sStride;
            for (int c = 0; c < n; c++) s[sr + c] = scale * dot(q, qr, k, kOff + c * kStride, d);
        }
    }

    /**
     * Four query rows against two key rows at a time: per step two key loads and four query loads feed eight
     * FMAs (decode reads every key once for all heads of its group).
     */
    private static void dot4(int n, int d, float scale, float[] q, int q0, int qStride,
                             float[] k, int kOff, int kStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride;
        int q2 = q1 + qStride;
        int q3 = q2 + qStride;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            int ka = kOff + c * kStride;
            int kb = ka + kStride;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector ku = FloatVector.fromArray(F, k, ka + e);
                FloatVector kw = FloatVector.fromArray(F, k, kb + e);
                FloatVector x0 = FloatVector.fromArray(F, q, q0 + e);
                FloatVector x1 = FloatVector.fromArray(F, q, q1 + e);
                FloatVector x2 = FloatVector.fromArray(F, q, q2 + e);
                FloatVector x3 = FloatVector.fromArray(F, q, q3 + e);
                a0 = x0.fma(ku, a0);
                a1 = x1.fma(ku, a1);
                a2 = x2.fma(ku, a2);
                a3 = x3.fma(ku, a3);
                b0 = x0.fma(kw, b0);
                b1 = x1.fma(kw, b1);
                b2 = x2.fma(kw, b2);
                b3 = x3.fma(kw, b3);
            }
            float t0, t1, t2, t3, u0, u1, u2, u3;
            if (L == 16) {
                // eight lane sums at once: three levels of folds (see fold()) halve the lanes per input, a last
                // xor-1 add finishes. Written out: a helper taking vectors is boxed when C2 does not inline it.
                FloatVector x = a0.blend(b0, BIT8).add(b0.blend(a0, BIT8).rearrange(XOR8));
                FloatVector y = a1.blend(b1, BIT8).add(b1.blend(a1, BIT8).rearrange(XOR8));
                FloatVector f0 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                x = a2.blend(b2, BIT8).add(b2.blend(a2, BIT8).rearrange(XOR8));
                y = a3.blend(b3, BIT8).add(b3.blend(a3, BIT8).rearrange(XOR8));
                FloatVector f1 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                FloatVector t = f0.blend(f1, BIT2).add(f1.blend(f0, BIT2).rearrange(XOR2));
                t = t.add(t.rearrange(XOR1)); // even lanes: a0 a2 a1 a3 b0 b2 b1 b3
                t0 = t.lane(0);
                t2 = t.lane(2);
                t1 = t.lane(4);
                t3 = t.lane(6);
                u0 = t.lane(8);
                u2 = t.lane(10);
                u1 = t.lane(12);
                u3 = t.lane(14);
            } else {
                t0 = sum(a0);
                t1 = sum(a1);
                t2 = sum(a2);
                t3 = sum(a3);
                u0 = sum(b0);
                u1 = sum(b1);
                u2 = sum(b2);
                u3 = sum(b3);
            }
            for (; e < d; e++) {
                float kk = k[ka + e];
                float kl = k[kb + e];
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
                u0 += q[q0 + e] * kl;
                u1 += q[q1 + e] * kl;
                u2 += q[q2 + e] * kl;
                u3 += q[q3 + e] * kl;
            }
            s[s0 + c] = scale * t0;
            s[s0 + sStride + c] = scale * t1;
            s[s0 + 2 * sStride + c] = scale * t2;
            s[s0 + 3 * sStride + c] = scale * t3;
            s[s0 + c + 1] = scale * u0;
            s[s0 + sStride + c + 1] = scale * u1;
            s[s0 + 2 * sStride + c + 1] = scale * u2;
            s[s0 + 3 * sStride + c + 1] = scale * u3;
        }
        if (c < n) {
            int ka = kOff + c * kStride;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector kv = FloatVector.fromArray(F, k, ka + e);
                a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
            }
            float t0 = sum(a0);
            float t1 = sum(a1);
            float t2 = sum(a2);
            float t3 = sum(a3);
            for (; e < d; e++) {
                float kk = k[ka + e];
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
            }
            s[s0 + c] = scale * t0;
            s[s0 + sStride + c] = scale * t1;
            s[s0 + 2 * sStride + c] = scale * t2;
            s[s0 + 3 * sStride + c] = scale * t3;
        }
    }

    /** {@link #dot4} over Bf16 key rows, converted as they are loaded (a generated copy: only the loads differ). */
    private static void dot4Bf16(int n, int d, float scale, float[] q, int q0, int qStride,
                             short[] k, int kOff, int kStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride;
        int q2 = q1 + qStride;
        int q3 = q2 + qStride;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            int ka = kOff + c * kStride;
            int kb = ka + kStride;
            float fa = scale, fb = scale;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector ku = bf16(k, ka + e);
                FloatVector kw = bf16(k, kb + e);
                FloatVector x0 = FloatVector.fromArray(F, q, q0 + e);
                FloatVector x1 = FloatVector.fromArray(F, q, q1 + e);
                FloatVector x2 = FloatVector.fromArray(F, q, q2 + e);
                FloatVector x3 = FloatVector.fromArray(F, q, q3 + e);
                a0 = x0.fma(ku, a0);
                a1 = x1.fma(ku, a1);
                a2 = x2.fma(ku, a2);
                a3 = x3.fma(ku, a3);
                b0 = x0.fma(kw, b0);
                b1 = x1.fma(kw, b1);
                b2 = x2.fma(kw, b2);
                b3 = x3.fma(kw, b3);
            }
            float t0, t1, t2, t3, u0, u1, u2, u3;
            if (L == 16) {
                // eight lane sums at once: three levels of folds (see fold()) halve the lanes per input, a last
                // xor-1 add finishes. Written out: a helper taking vectors is boxed when C2 does not inline it.
                FloatVector x = a0.blend(b0, BIT8).add(b0.blend(a0, BIT8).rearrange(XOR8));
                FloatVector y = a1.blend(b1, BIT8).add(b1.blend(a1, BIT8).rearrange(XOR8));
                FloatVector f0 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                x = a2.blend(b2, BIT8).add(b2.blend(a2, BIT8).rearrange(XOR8));
                y = a3.blend(b3, BIT8).add(b3.blend(a3, BIT8).rearrange(XOR8));
                FloatVector f1 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                FloatVector t = f0.blend(f1, BIT2).add(f1.blend(f0, BIT2).rearrange(XOR2));
                t = t.add(t.rearrange(XOR1)); // even lanes: a0 a2 a1 a3 b0 b2 b1 b3
                t0 = t.lane(0);
                t2 = t.lane(2);
                t1 = t.lane(4);
                t3 = t.lane(6);
                u0 = t.lane(8);
                u2 = t.lane(10);
                u1 = t.lane(12);
                u3 = t.lane(14);
            } else {
                t0 = sum(a0);
                t1 = sum(a1);
                t2 = sum(a2);
                t3 = sum(a3);
                u0 = sum(b0);
                u1 = sum(b1);
                u2 = sum(b2);
                u3 = sum(b3);
            }
            for (; e < d; e++) {
                float kk = Float.intBitsToFloat(k[ka + e] << 16);
                float kl = Float.intBitsToFloat(k[kb + e] << 16);
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
                u0 += q[q0 + e] * kl;
                u1 += q[q1 + e] * kl;
                u2 += q[q2 + e] * kl;
                u3 += q[q3 + e] * kl;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
            s[s0 + c + 1] = fb * u0;
            s[s0 + sStride + c + 1] = fb * u1;
            s[s0 + 2 * sStride + c + 1] = fb * u2;
            s[s0 + 3 * sStride + c + 1] = fb * u3;
        }
        if (c < n) {
            int ka = kOff + c * kStride;
            float fa = scale;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector kv = bf16(k, ka + e);
                a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
            }
            float t0 = sum(a0);
            float t1 = sum(a1);
            float t2 = sum(a2);
            float t3 = sum(a3);
            for (; e < d; e++) {
                float kk = Float.intBitsToFloat(k[ka + e] << 16);
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
        }
    }

    /** {@link #dot4} over F16 key rows, converted as they are loaded (a generated copy: only the loads differ). */
    private static void dot4F16(int n, int d, float scale, float[] q, int q0, int qStride,
                             short[] k, int kOff, int kStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride;
        int q2 = q1 + qStride;
        int q3 = q2 + qStride;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            int ka = kOff + c * kStride;
            int kb = ka + kStride;
            float fa = scale, fb = scale;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector ku = f16(k, ka + e);
                FloatVector kw = f16(k, kb + e);
                FloatVector x0 = FloatVector.fromArray(F, q, q0 + e);
                FloatVector x1 = FloatVector.fromArray(F, q, q1 + e);
                FloatVector x2 = FloatVector.fromArray(F, q, q2 + e);
                FloatVector x3 = FloatVector.fromArray(F, q, q3 + e);
                a0 = x0.fma(ku, a0);
                a1 = x1.fma(ku, a1);
                a2 = x2.fma(ku, a2);
                a3 = x3.fma(ku, a3);
                b0 = x0.fma(kw, b0);
                b1 = x1.fma(kw, b1);
                b2 = x2.fma(kw, b2);
                b3 = x3.fma(kw, b3);
            }
            float t0, t1, t2, t3, u0, u1, u2, u3;
            if (L == 16) {
                // eight lane sums at once: three levels of folds (see fold()) halve the lanes per input, a last
                // xor-1 add finishes. Written out: a helper taking vectors is boxed when C2 does not inline it.
                FloatVector x = a0.blend(b0, BIT8).add(b0.blend(a0, BIT8).rearrange(XOR8));
                FloatVector y = a1.blend(b1, BIT8).add(b1.blend(a1, BIT8).rearrange(XOR8));
                FloatVector f0 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                x = a2.blend(b2, BIT8).add(b2.blend(a2, BIT8).rearrange(XOR8));
                y = a3.blend(b3, BIT8).add(b3.blend(a3, BIT8).rearrange(XOR8));
                FloatVector f1 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                FloatVector t = f0.blend(f1, BIT2).add(f1.blend(f0, BIT2).rearrange(XOR2));
                t = t.add(t.rearrange(XOR1)); // even lanes: a0 a2 a1 a3 b0 b2 b1 b3
                t0 = t.lane(0);
                t2 = t.lane(2);
                t1 = t.lane(4);
                t3 = t.lane(6);
                u0 = t.lane(8);
                u2 = t.lane(10);
                u1 = t.lane(12);
                u3 = t.lane(14);
            } else {
                t0 = sum(a0);
                t1 = sum(a1);
                t2 = sum(a2);
                t3 = sum(a3);
                u0 = sum(b0);
                u1 = sum(b1);
                u2 = sum(b2);
                u3 = sum(b3);
            }
            for (; e < d; e++) {
                float kk = Float.float16ToFloat(k[ka + e]);
                float kl = Float.float16ToFloat(k[kb + e]);
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
                u0 += q[q0 + e] * kl;
                u1 += q[q1 + e] * kl;
                u2 += q[q2 + e] * kl;
                u3 += q[q3 + e] * kl;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
            s[s0 + c + 1] = fb * u0;
            s[s0 + sStride + c + 1] = fb * u1;
            s[s0 + 2 * sStride + c + 1] = fb * u2;
            s[s0 + 3 * sStride + c + 1] = fb * u3;
        }
        if (c < n) {
            int ka = kOff + c * kStride;
            float fa = scale;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector kv = f16(k, ka + e);
                a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
            }
            float t0 = sum(a0);
            float t1 = sum(a1);
            float t2 = sum(a2);
            float t3 = sum(a3);
            for (; e < d; e++) {
                float kk = Float.float16ToFloat(k[ka + e]);
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
        }
    }

    /** {@link #dot4} over I8 key rows, converted as they are loaded (a generated copy: only the loads differ). */
    private static void dot4I8(int n, int d, float scale, float[] q, int q0, int qStride,
                             byte[] k, float[] scales, int pitch, int kOff, int kStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride;
        int q2 = q1 + qStride;
        int q3 = q2 + qStride;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            int ka = kOff + c * kStride;
            int kb = ka + kStride;
            float fa = scale * scales[ka / pitch], fb = scale * scales[kb / pitch];
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector ku = int8(k, ka + e);
                FloatVector kw = int8(k, kb + e);
                FloatVector x0 = FloatVector.fromArray(F, q, q0 + e);
                FloatVector x1 = FloatVector.fromArray(F, q, q1 + e);
                FloatVector x2 = FloatVector.fromArray(F, q, q2 + e);
                FloatVector x3 = FloatVector.fromArray(F, q, q3 + e);
                a0 = x0.fma(ku, a0);
                a1 = x1.fma(ku, a1);
                a2 = x2.fma(ku, a2);
                a3 = x3.fma(ku, a3);
                b0 = x0.fma(kw, b0);
                b1 = x1.fma(kw, b1);
                b2 = x2.fma(kw, b2);
                b3 = x3.fma(kw, b3);
            }
            float t0, t1, t2, t3, u0, u1, u2, u3;
            if (L == 16) {
                // eight lane sums at once: three levels of folds (see fold()) halve the lanes per input, a last
                // xor-1 add finishes. Written out: a helper taking vectors is boxed when C2 does not inline it.
                FloatVector x = a0.blend(b0, BIT8).add(b0.blend(a0, BIT8).rearrange(XOR8));
                FloatVector y = a1.blend(b1, BIT8).add(b1.blend(a1, BIT8).rearrange(XOR8));
                FloatVector f0 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                x = a2.blend(b2, BIT8).add(b2.blend(a2, BIT8).rearrange(XOR8));
                y = a3.blend(b3, BIT8).add(b3.blend(a3, BIT8).rearrange(XOR8));
                FloatVector f1 = x.blend(y, BIT4).add(y.blend(x, BIT4).rearrange(XOR4));
                FloatVector t = f0.blend(f1, BIT2).add(f1.blend(f0, BIT2).rearrange(XOR2));
                t = t.add(t.rearrange(XOR1)); // even lanes: a0 a2 a1 a3 b0 b2 b1 b3
                t0 = t.lane(0);
                t2 = t.lane(2);
                t1 = t.lane(4);
                t3 = t.lane(6);
                u0 = t.lane(8);
                u2 = t.lane(10);
                u1 = t.lane(12);
                u3 = t.lane(14);
            } else {
                t0 = sum(a0);
                t1 = sum(a1);
                t2 = sum(a2);
                t3 = sum(a3);
                u0 = sum(b0);
                u1 = sum(b1);
                u2 = sum(b2);
                u3 = sum(b3);
            }
            for (; e < d; e++) {
                float kk = k[ka + e];
                float kl = k[kb + e];
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
                u0 += q[q0 + e] * kl;
                u1 += q[q1 + e] * kl;
                u2 += q[q2 + e] * kl;
                u3 += q[q3 + e] * kl;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
            s[s0 + c + 1] = fb * u0;
            s[s0 + sStride + c + 1] = fb * u1;
            s[s0 + 2 * sStride + c + 1] = fb * u2;
            s[s0 + 3 * sStride + c + 1] = fb * u3;
        }
        if (c < n) {
            int ka = kOff + c * kStride;
            float fa = scale * scales[ka / pitch];
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int e = 0;
            for (; e <= d - L; e += L) {
                FloatVector kv = int8(k, ka + e);
                a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
            }
            float t0 = sum(a0);
            float t1 = sum(a1);
            float t2 = sum(a2);
            float t3 = sum(a3);
            for (; e < d; e++) {
                float kk = k[ka + e];
                t0 += q[q0 + e] * kk;
                t1 += q[q1 + e] * kk;
                t2 += q[q2 + e] * kk;
                t3 += q[q3 + e] * kk;
            }
            s[s0 + c] = fa * t0;
            s[s0 + sStride + c] = fa * t1;
            s[s0 + 2 * sStride + c] = fa * t2;
            s[s0 + 3 * sStride + c] = fa * t3;
        }
    }

    @Override
    public void transposedScores(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                 float[] kt, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        int r = 0;
        if (MANY_REGISTERS) {
            for (; r + 4 <= rows; r += 4) {
                transposed4(n, d, scale, q, qOff + r * qStride, qStride, kt, ktOff, ktStride, s, sOff + r * sStride, sStride);
            }
        }
        for (; r + 2 <= rows; r += 2) {
            transposed2(n, d, scale, q, qOff + r * qStride, qOff + (r + 1) * qStride, kt, ktOff, ktStride,
                    s, sOff + r * sStride, sOff + (r + 1) * sStride);
        }
        if (r < rows) transposed1(n, d, scale, q, qOff + r * qStride, kt, ktOff, ktStride, s, sOff + r * sStride);
    }

    /**
     * Four query rows against {@code 4 * lanes} key columns at a time (16 accumulators, only with 32 vector
     * registers); narrower column tails go through {@link #transposed4Narrow}.
     */
    private static void transposed4(int n, int d, float scale, float[] q, int q0, int qStride,
                                    float[] kt, int ktOff, int ktStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        int s1 = s0 + sStride, s2 = s1 + sStride, s3 = s2 + sStride;
        int c = 0;
        for (; c <= n - L4; c += L4) {
            FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb);
                FloatVector k1 = FloatVector.fromArray(F, kt, kb + L);
                FloatVector k2 = FloatVector.fromArray(F, kt, kb + L2);
                FloatVector k3 = FloatVector.fromArray(F, kt, kb + L3);
                FloatVector b = FloatVector.broadcast(F, q[q0 + e]);
                a00 = k0.fma(b, a00);
                a01 = k1.fma(b, a01);
                a02 = k2.fma(b, a02);
                a03 = k3.fma(b, a03);
                b = FloatVector.broadcast(F, q[q1 + e]);
                a10 = k0.fma(b, a10);
                a11 = k1.fma(b, a11);
                a12 = k2.fma(b, a12);
                a13 = k3.fma(b, a13);
                b = FloatVector.broadcast(F, q[q2 + e]);
                a20 = k0.fma(b, a20);
                a21 = k1.fma(b, a21);
                a22 = k2.fma(b, a22);
                a23 = k3.fma(b, a23);
                b = FloatVector.broadcast(F, q[q3 + e]);
                a30 = k0.fma(b, a30);
                a31 = k1.fma(b, a31);
                a32 = k2.fma(b, a32);
                a33 = k3.fma(b, a33);
            }
            a00.mul(scale).intoArray(s, s0 + c);
            a01.mul(scale).intoArray(s, s0 + c + L);
            a02.mul(scale).intoArray(s, s0 + c + L2);
            a03.mul(scale).intoArray(s, s0 + c + L3);
            a10.mul(scale).intoArray(s, s1 + c);
            a11.mul(scale).intoArray(s, s1 + c + L);
            a12.mul(scale).intoArray(s, s1 + c + L2);
            a13.mul(scale).intoArray(s, s1 + c + L3);
            a20.mul(scale).intoArray(s, s2 + c);
            a21.mul(scale).intoArray(s, s2 + c + L);
            a22.mul(scale).intoArray(s, s2 + c + L2);
            a23.mul(scale).intoArray(s, s2 + c + L3);
            a30.mul(scale).intoArray(s, s3 + c);
            a31.mul(scale).intoArray(s, s3 + c + L);
            a32.mul(scale).intoArray(s, s3 + c + L2);
            a33.mul(scale).intoArray(s, s3 + c + L3);
        }
        if (c < n) transposed4Narrow(n - c, d, scale, q, q0, qStride, kt, ktOff + c, ktStride, s, s0 + c, sStride);
    }

    /**
     * The last {@code n < 4 * lanes} key columns of {@link #transposed4} (the diagonal tile of a causal row, a
     * window's edge, a short sequence): four rows against two vectors of columns, then one, then a masked
     * one, so that every step still has 8 or 4 independent FMA chains. (Two rows against one vector, the
     * previous tail, had 2 chains: FMA-latency bound at a quarter of the peak.)
     */
    private static void transposed4Narrow(int n, int d, float scale, float[] q, int q0, int qStride,
                                          float[] kt, int ktOff, int ktStride, float[] s, int s0, int sStride) {
        int q1 = q0 + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        int s1 = s0 + sStride, s2 = s1 + sStride, s3 = s2 + sStride;
        int c = 0;
        for (; c <= n - L2; c += L2) {
            FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a10 = FloatVector.zero(F), a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a30 = FloatVector.zero(F), a31 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb);
                FloatVector k1 = FloatVector.fromArray(F, kt, kb + L);
                FloatVector b = FloatVector.broadcast(F, q[q0 + e]);
                a00 = k0.fma(b, a00);
                a01 = k1.fma(b, a01);
                b = FloatVector.broadcast(F, q[q1 + e]);
                a10 = k0.fma(b, a10);
                a11 = k1.fma(b, a11);
                b = FloatVector.broadcast(F, q[q2 + e]);
                a20 = k0.fma(b, a20);
                a21 = k1.fma(b, a21);
                b = FloatVector.broadcast(F, q[q3 + e]);
                a30 = k0.fma(b, a30);
                a31 = k1.fma(b, a31);
            }
            a00.mul(scale).intoArray(s, s0 + c);
            a01.mul(scale).intoArray(s, s0 + c + L);
            a10.mul(scale).intoArray(s, s1 + c);
            a11.mul(scale).intoArray(s, s1 + c + L);
            a20.mul(scale).intoArray(s, s2 + c);
            a21.mul(scale).intoArray(s, s2 + c + L);
            a30.mul(scale).intoArray(s, s3 + c);
            a31.mul(scale).intoArray(s, s3 + c + L);
        }
        for (; c < n; c += L) { // one vector of columns, the last one masked
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb, m);
                a0 = k0.fma(FloatVector.broadcast(F, q[q0 + e]), a0);
                a1 = k0.fma(FloatVector.broadcast(F, q[q1 + e]), a1);
                a2 = k0.fma(FloatVector.broadcast(F, q[q2 + e]), a2);
                a3 = k0.fma(FloatVector.broadcast(F, q[q3 + e]), a3);
            }
            a0.mul(scale).intoArray(s, s0 + c, m);
            a1.mul(scale).intoArray(s, s1 + c, m);
            a2.mul(scale).intoArray(s, s2 + c, m);
            a3.mul(scale).intoArray(s, s3 + c, m);
        }
    }

    /**
     * Two query rows against {@code 4 * lanes} key columns at a time: per head-dim step, two broadcasts and
     * four key loads feed eight FMAs; no horizontal reduction is needed.
     */
    private static void transposed2(int n, int d, float scale, float[] q, int q0, int q1,
                                    float[] kt, int ktOff, int ktStride, float[] s, int s0, int s1) {
        int c = 0;
        for (; c <= n - L4; c += L4) {
            FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb);
                FloatVector k1 = FloatVector.fromArray(F, kt, kb + L);
                FloatVector k2 = FloatVector.fromArray(F, kt, kb + L2);
                FloatVector k3 = FloatVector.fromArray(F, kt, kb + L3);
                FloatVector b0 = FloatVector.broadcast(F, q[q0 + e]);
                FloatVector b1 = FloatVector.broadcast(F, q[q1 + e]);
                a00 = k0.fma(b0, a00);
                a01 = k1.fma(b0, a01);
                a02 = k2.fma(b0, a02);
                a03 = k3.fma(b0, a03);
                a10 = k0.fma(b1, a10);
                a11 = k1.fma(b1, a11);
                a12 = k2.fma(b1, a12);
                a13 = k3.fma(b1, a13);
            }
            a00.mul(scale).intoArray(s, s0 + c);
            a01.mul(scale).intoArray(s, s0 + c + L);
            a02.mul(scale).intoArray(s, s0 + c + L2);
            a03.mul(scale).intoArray(s, s0 + c + L3);
            a10.mul(scale).intoArray(s, s1 + c);
            a11.mul(scale).intoArray(s, s1 + c + L);
            a12.mul(scale).intoArray(s, s1 + c + L2);
            a13.mul(scale).intoArray(s, s1 + c + L3);
        }
        for (; c <= n - L; c += L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb);
                a0 = k0.fma(FloatVector.broadcast(F, q[q0 + e]), a0);
                a1 = k0.fma(FloatVector.broadcast(F, q[q1 + e]), a1);
            }
            a0.mul(scale).intoArray(s, s0 + c);
            a1.mul(scale).intoArray(s, s1 + c);
        }
        if (c < n) {
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector k0 = FloatVector.fromArray(F, kt, kb, m);
                a0 = k0.fma(FloatVector.broadcast(F, q[q0 + e]), a0);
                a1 = k0.fma(FloatVector.broadcast(F, q[q1 + e]), a1);
            }
            a0.mul(scale).intoArray(s, s0 + c, m);
            a1.mul(scale).intoArray(s, s1 + c, m);
        }
    }

    private static void transposed1(int n, int d, float scale, float[] q, int q0,
                                    float[] kt, int ktOff, int ktStride, float[] s, int s0) {
        int c = 0;
        for (; c <= n - L4; c += L4) {
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                FloatVector b0 = FloatVector.broadcast(F, q[q0 + e]);
                a0 = FloatVector.fromArray(F, kt, kb).fma(b0, a0);
                a1 = FloatVector.fromArray(F, kt, kb + L).fma(b0, a1);
                a2 = FloatVector.fromArray(F, kt, kb + L2).fma(b0, a2);
                a3 = FloatVector.fromArray(F, kt, kb + L3).fma(b0, a3);
            }
            a0.mul(scale).intoArray(s, s0 + c);
            a1.mul(scale).intoArray(s, s0 + c + L);
            a2.mul(scale).intoArray(s, s0 + c + L2);
            a3.mul(scale).intoArray(s, s0 + c + L3);
        }
        for (; c <= n - L; c += L) {
            FloatVector a0 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                a0 = FloatVector.fromArray(F, kt, kb).fma(FloatVector.broadcast(F, q[q0 + e]), a0);
            }
            a0.mul(scale).intoArray(s, s0 + c);
        }
        if (c < n) {
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector a0 = FloatVector.zero(F);
            int kb = ktOff + c;
            for (int e = 0; e < d; e++, kb += ktStride) {
                a0 = FloatVector.fromArray(F, kt, kb, m).fma(FloatVector.broadcast(F, q[q0 + e]), a0);
            }
            a0.mul(scale).intoArray(s, s0 + c, m);
        }
    }

    @Override
    public void softcap(float[] a, int off, int n, float cap) {
        int c = 0;
        for (; c <= n - L; c += L) {
            tanh(FloatVector.fromArray(F, a, off + c).div(cap)).mul(cap).intoArray(a, off + c);
        }
        for (; c < n; c++) a[off + c] = cap * (float) StrictMath.tanh(a[off + c] / cap);
    }

    @Override
    public void addStrided(float[] a, int off, int n, float[] src, int srcOff, int srcStride) {
        int c = 0;
        if (srcStride == 1) {
            for (; c <= n - L; c += L) {
                FloatVector.fromArray(F, a, off + c).add(FloatVector.fromArray(F, src, srcOff + c)).intoArray(a, off + c);
            }
        } else if (srcStride == 0 && n >= L) {
            float x = src[srcOff];
            for (; c <= n - L; c += L) FloatVector.fromArray(F, a, off + c).add(x).intoArray(a, off + c);
        }
        for (; c < n; c++) a[off + c] += src[srcOff + c * srcStride];
    }

    /**
     * Compare-and-blend instead of {@code FloatVector.max}: Java's max semantics (NaN, -0 before +0) cost six
     * instructions per max in C2's code against two, and the max chain is on the softmax's critical path.
     * Scores are never NaN here, and -0 and +0 shift a row's scores alike.
     */
    @Override
    public float max(float[] a, int off, int n) {
        int c = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector acc = FloatVector.fromArray(F, a, off);
            for (c = L; c <= n - L; c += L) {
                FloatVector y = FloatVector.fromArray(F, a, off + c);
                acc = acc.blend(y, acc.compare(VectorOperators.LT, y));
            }
            // a butterfly, as in sum(), rather than reduceLanes(MAX)
            if (L > 16) return Math.max(acc.reduceLanes(VectorOperators.MAX), maxTail(a, off, c, n));
            FloatVector y;
            if (L >= 16) {
                y = acc.rearrange(XOR8);
                acc = acc.blend(y, acc.compare(VectorOperators.LT, y));
            }
            if (L >= 8) {
                y = acc.rearrange(XOR4);
                acc = acc.blend(y, acc.compare(VectorOperators.LT, y));
            }
            if (L >= 4) {
                y = acc.rearrange(XOR2);
                acc = acc.blend(y, acc.compare(VectorOperators.LT, y));
            }
            y = acc.rearrange(XOR1);
            m = acc.blend(y, acc.compare(VectorOperators.LT, y)).lane(0);
        }
        return Math.max(m, maxTail(a, off, c, n));
    }

    private static float maxTail(float[] a, int off, int c, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (; c < n; c++) m = a[off + c] > m ? a[off + c] : m;
        return m;
    }

    /**
     * Four rows at a time when the vectors have 16 lanes (the common case: a 4-row block of the engine), else row
     * by row; the semantics of {@link CpuKernelSupport#onlineSoftmax}.
     */
    @Override
    public void onlineSoftmax(int rows, int n, float[] s, int sOff, int sStride, float[] m, float[] l, int stOff, int stStride,
                              float[] alpha) {
        int r = 0;
        if (L == 16) {
            for (; r + 4 <= rows; r += 4) {
                softmax4(n, s, sOff + r * sStride, sStride, m, l, stOff + r * stStride, stStride, alpha, r);
            }
        }
        for (; r < rows; r++) {
            int off = sOff + r * sStride;
            int i = stOff + r * stStride;
            float shift = raiseMax(max(s, off, n), m, i, alpha, r);
            l[i] = l[i] * alpha[r] + expShiftSum(s, off, n, shift);
        }
    }

    /**
     * Row {@code i}'s running max after a tile whose largest score is {@code t}: sets {@code m[i]} and
     * {@code alpha[r] = e^(m_old - m_new)} (exactly 1 when the max did not grow, 0 while the row was empty) and
     * returns the shift for the tile's exps: the new max, or +inf when every key of the tile is hidden (then
     * every {@code s - shift} is -inf and every exp 0). Scalar code with one rarely taken branch: the max of a
     * row is data, and a mispredicted branch on it would serialise the rows.
     */
    private static float raiseMax(float t, float[] m, int i, float[] alpha, int r) {
        if (t == Float.NEGATIVE_INFINITY) {
            alpha[r] = 1f;
            return Float.POSITIVE_INFINITY;
        }
        float old = m[i];
        float mx = old > t ? old : t;
        alpha[r] = expScalar(old - mx); // expScalar(0) is exactly 1, expScalar(-inf) 0
        m[i] = mx;
        return mx;
    }

    /**
     * {@link #onlineSoftmax} for four rows of 16-lane vectors: the four row maxima in one pass (four independent
     * compare chains, one transposing reduction), then the exps of the four rows side by side, one vector of
     * each per step, so that four independent polynomials are in flight (row by row, a 64-score row is only
     * four vectors and the polynomial's latency was exposed). Everything is written out in this one method:
     * helpers taking vectors are boxed when C2 declines to inline them, and masked vector operations were
     * erratic here (several-fold slowdowns in some JVMs), so the {@code n % 16} tail columns are scalar.
     */
    private static void softmax4(int n, float[] s, int o0, int sStride, float[] m, float[] l, int st0, int stStride,
                                 float[] alpha, int a0) {
        int o1 = o0 + sStride, o2 = o1 + sStride, o3 = o2 + sStride;
        int full = n - n % L;
        FloatVector x0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), x1 = x0, x2 = x0, x3 = x0;
        for (int c = 0; c < full; c += L) {
            FloatVector y0 = FloatVector.fromArray(F, s, o0 + c);
            FloatVector y1 = FloatVector.fromArray(F, s, o1 + c);
            FloatVector y2 = FloatVector.fromArray(F, s, o2 + c);
            FloatVector y3 = FloatVector.fromArray(F, s, o3 + c);
            x0 = x0.blend(y0, x0.compare(VectorOperators.LT, y0));
            x1 = x1.blend(y1, x1.compare(VectorOperators.LT, y1));
            x2 = x2.blend(y2, x2.compare(VectorOperators.LT, y2));
            x3 = x3.blend(y3, x3.compare(VectorOperators.LT, y3));
        }
        // transposing max-folds: then lane 0 holds row 0's max, lane 8 row 1's, lane 4 row 2's, lane 12 row 3's
        FloatVector u = x0.blend(x1, BIT8), w = x1.blend(x0, BIT8).rearrange(XOR8);
        FloatVector f01 = u.blend(w, u.compare(VectorOperators.LT, w));
        u = x2.blend(x3, BIT8);
        w = x3.blend(x2, BIT8).rearrange(XOR8);
        FloatVector f23 = u.blend(w, u.compare(VectorOperators.LT, w));
        u = f01.blend(f23, BIT4);
        w = f23.blend(f01, BIT4).rearrange(XOR4);
        FloatVector f = u.blend(w, u.compare(VectorOperators.LT, w));
        w = f.rearrange(XOR2);
        f = f.blend(w, f.compare(VectorOperators.LT, w));
        w = f.rearrange(XOR1);
        f = f.blend(w, f.compare(VectorOperators.LT, w));
        float t0 = f.lane(0), t1 = f.lane(8), t2 = f.lane(4), t3 = f.lane(12);
        for (int c = full; c < n; c++) {
            t0 = s[o0 + c] > t0 ? s[o0 + c] : t0;
            t1 = s[o1 + c] > t1 ? s[o1 + c] : t1;
            t2 = s[o2 + c] > t2 ? s[o2 + c] : t2;
            t3 = s[o3 + c] > t3 ? s[o3 + c] : t3;
        }
        int i1 = st0 + stStride, i2 = i1 + stStride, i3 = i2 + stStride;
        float sh0 = raiseMax(t0, m, st0, alpha, a0);
        float sh1 = raiseMax(t1, m, i1, alpha, a0 + 1);
        float sh2 = raiseMax(t2, m, i2, alpha, a0 + 2);
        float sh3 = raiseMax(t3, m, i3, alpha, a0 + 3);

        FloatVector zero = FloatVector.zero(F);
        FloatVector h0 = FloatVector.broadcast(F, sh0), h1 = FloatVector.broadcast(F, sh1);
        FloatVector h2 = FloatVector.broadcast(F, sh2), h3 = FloatVector.broadcast(F, sh3);
        FloatVector e0 = zero, e1 = zero, e2 = zero, e3 = zero;
        for (int c = 0; c < full; c += L) {
            {
                FloatVector x = FloatVector.fromArray(F, s, o0 + c).sub(h0);
                VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
                x = x.blend(EXP_LO, under);
                FloatVector kr = x.mul(LOG2E).add(ROUND);
                FloatVector k = kr.sub(ROUND);
                FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), x);
                r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
                FloatVector p = r.fma(EXP_C5, EXP_C4);
                p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
                p = p.fma(r.mul(r), r).add(1f);
                FloatVector twoK = ((IntVector) kr.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                p = p.mul(twoK).blend(zero, under);
                p.intoArray(s, o0 + c);
                e0 = e0.add(p);
            }
            {
                FloatVector x = FloatVector.fromArray(F, s, o1 + c).sub(h1);
                VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
                x = x.blend(EXP_LO, under);
                FloatVector kr = x.mul(LOG2E).add(ROUND);
                FloatVector k = kr.sub(ROUND);
                FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), x);
                r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
                FloatVector p = r.fma(EXP_C5, EXP_C4);
                p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
                p = p.fma(r.mul(r), r).add(1f);
                FloatVector twoK = ((IntVector) kr.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                p = p.mul(twoK).blend(zero, under);
                p.intoArray(s, o1 + c);
                e1 = e1.add(p);
            }
            {
                FloatVector x = FloatVector.fromArray(F, s, o2 + c).sub(h2);
                VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
                x = x.blend(EXP_LO, under);
                FloatVector kr = x.mul(LOG2E).add(ROUND);
                FloatVector k = kr.sub(ROUND);
                FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), x);
                r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
                FloatVector p = r.fma(EXP_C5, EXP_C4);
                p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
                p = p.fma(r.mul(r), r).add(1f);
                FloatVector twoK = ((IntVector) kr.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                p = p.mul(twoK).blend(zero, under);
                p.intoArray(s, o2 + c);
                e2 = e2.add(p);
            }
            {
                FloatVector x = FloatVector.fromArray(F, s, o3 + c).sub(h3);
                VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
                x = x.blend(EXP_LO, under);
                FloatVector kr = x.mul(LOG2E).add(ROUND);
                FloatVector k = kr.sub(ROUND);
                FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), x);
                r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
                FloatVector p = r.fma(EXP_C5, EXP_C4);
                p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
                p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
                p = p.fma(r.mul(r), r).add(1f);
                FloatVector twoK = ((IntVector) kr.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                p = p.mul(twoK).blend(zero, under);
                p.intoArray(s, o3 + c);
                e3 = e3.add(p);
            }
        }
        // transposing sum-folds, in the lane order of sum()'s butterfly: the same bits as summing each row alone
        u = e0.blend(e1, BIT8);
        w = e1.blend(e0, BIT8).rearrange(XOR8);
        FloatVector g01 = u.add(w);
        u = e2.blend(e3, BIT8);
        w = e3.blend(e2, BIT8).rearrange(XOR8);
        FloatVector g23 = u.add(w);
        u = g01.blend(g23, BIT4);
        w = g23.blend(g01, BIT4).rearrange(XOR4);
        FloatVector g = u.add(w);
        g = g.add(g.rearrange(XOR2));
        g = g.add(g.rearrange(XOR1));
        float z0 = g.lane(0), z1 = g.lane(8), z2 = g.lane(4), z3 = g.lane(12);
        for (int c = full; c < n; c++) {
            float p0 = expScalar(s[o0 + c] - sh0);
            float p1 = expScalar(s[o1 + c] - sh1);
            float p2 = expScalar(s[o2 + c] - sh2);
            float p3 = expScalar(s[o3 + c] - sh3);
            s[o0 + c] = p0;
            s[o1 + c] = p1;
            s[o2 + c] = p2;
            s[o3 + c] = p3;
            z0 += p0;
            z1 += p1;
            z2 += p2;
            z3 += p3;
        }
        l[st0] = l[st0] * alpha[a0] + z0;
        l[i1] = l[i1] * alpha[a0 + 1] + z1;
        l[i2] = l[i2] * alpha[a0 + 2] + z2;
        l[i3] = l[i3] * alpha[a0 + 3] + z3;
    }

    /**
     * The exp polynomial of {@link #exp} is written out in the loop rather than called. A helper that takes and
     * returns vectors is only fast when C2 inlines it, and whether it does depends on profiles (a helper that
     * was compiled on its own first is no longer inlined: "already compiled into a medium method"); then every
     * vector crossing the call is boxed and the loop runs several times slower (seen in JFR as
     * {@code VectorSupport.ternaryOp} frames). {@code blend(0L, mask)} is avoided for the same reason: it is not
     * intrinsified.
     */
    @Override
    public float expShiftSum(float[] a, int off, int n, float shift) {
        int c = 0;
        FloatVector sum = FloatVector.zero(F);
        FloatVector zero = FloatVector.zero(F);
        for (; c <= n - L; c += L) {
            FloatVector x = FloatVector.fromArray(F, a, off + c).sub(shift);
            VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
            x = x.blend(EXP_LO, under); // = max(x, EXP_LO); max() costs 6 instructions (Java semantics for NaN and -0)
            FloatVector kr = x.mul(LOG2E).add(ROUND); // k + 1.5 * 2^23: its low bits are the integer k
            FloatVector k = kr.sub(ROUND);
            FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), x);
            r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
            FloatVector p = r.fma(EXP_C5, EXP_C4);
            p = p.fma(r, FloatVector.broadcast(F, EXP_C3));
            p = p.fma(r, FloatVector.broadcast(F, EXP_C2));
            p = p.fma(r, FloatVector.broadcast(F, EXP_C1));
            p = p.fma(r, FloatVector.broadcast(F, EXP_C0));
            p = p.fma(r.mul(r), r).add(1f);
            // 2^k from kr's bits: (bits + 127) << 23 (the 0x4B40_0000 of 1.5 * 2^23 shifts out), no float-to-int convert
            FloatVector twoK = ((IntVector) kr.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            p = p.mul(twoK).blend(zero, under);
            p.intoArray(a, off + c);
            sum = sum.add(p);
        }
        if (L >= 16) sum = sum.add(sum.rearrange(XOR8)); // the butterfly of sum(), written out
        if (L >= 8) sum = sum.add(sum.rearrange(XOR4));
        if (L >= 4) sum = sum.add(sum.rearrange(XOR2));
        float total = L > 16 ? sum(sum) : sum.add(sum.rearrange(XOR1)).lane(0);
        for (; c < n; c++) {
            float p = expScalar(a[off + c] - shift);
            a[off + c] = p;
            total += p;
        }
        return total;
    }

    /** {@code e^x}, {@code x <= 0}, with the same polynomial as the vector lanes (deterministic in every JIT tier). */
    static float expScalar(float x) {
        if (x < EXP_LO) return 0f;
        float n = (x * LOG2E + ROUND) - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, EXP_C5, EXP_C4);
        p = Math.fma(p, r, EXP_C3);
        p = Math.fma(p, r, EXP_C2);
        p = Math.fma(p, r, EXP_C1);
        p = Math.fma(p, r, EXP_C0);
        p = Math.fma(p, r * r, r) + 1f;
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    @Override
    public void scaleInto(float[] src, int srcOff, int n, float factor, float[] dst, int dstOff) {
        int c = 0;
        for (; c <= n - L; c += L) FloatVector.fromArray(F, src, srcOff + c).mul(factor).intoArray(dst, dstOff + c);
        for (; c < n; c++) dst[dstOff + c] = factor * src[srcOff + c];
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int c = 0;
        FloatVector va = FloatVector.broadcast(F, alpha);
        for (; c <= n - L; c += L) {
            FloatVector.fromArray(F, x, xOff + c).fma(va, FloatVector.fromArray(F, y, yOff + c)).intoArray(y, yOff + c);
        }
        for (; c < n; c++) y[yOff + c] += alpha * x[xOff + c];
    }

    @Override
    public void accumulateRows(int rows, int n, int dv, float[] p, int pOff, int pStride,
                               float[] v, int vOff, int vStride, float[] o, int oOff, int oStride, float[] oScale) {
        int r = 0;
        if (MANY_REGISTERS) {
            for (; r + 4 <= rows; r += 4) {
                accumulate4(n, dv, p, pOff + r * pStride, pStride, v, vOff, vStride, o, oOff + r * oStride, oStride,
                        factor(oScale, r), factor(oScale, r + 1), factor(oScale, r + 2), factor(oScale, r + 3));
            }
        }
        for (; r + 2 <= rows; r += 2) {
            accumulate2(n, dv, p, pOff + r * pStride, pOff + (r + 1) * pStride, v, vOff, vStride,
                    o, oOff + r * oStride, oOff + (r + 1) * oStride, factor(oScale, r), factor(oScale, r + 1));
        }
        if (r < rows) accumulate1(n, dv, p, pOff + r * pStride, v, vOff, vStride, o, oOff + r * oStride, factor(oScale, r));
    }

    private static float factor(float[] oScale, int r) {
        return oScale == null ? 1f : oScale[r];
    }

    /**
     * Four output rows share every value-vector load: {@code 4 * lanes} output columns of four rows live in 16
     * accumulators (only with 32 vector registers); the narrower tails go through {@link #accumulate2}.
     */
    private static void accumulate4(int n, int dv, float[] p, int p0, int pStride, float[] v, int vOff, int vStride,
                                    float[] o, int o0, int oStride, float f0, float f1, float f2, float f3) {
        int p1 = p0 + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
        int o1 = o0 + oStride, o2 = o1 + oStride, o3 = o2 + oStride;
        int e = 0;
        for (; e <= dv - L4; e += L4) {
            FloatVector a00 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a01 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
            FloatVector a02 = FloatVector.fromArray(F, o, o0 + e + L2).mul(f0), a03 = FloatVector.fromArray(F, o, o0 + e + L3).mul(f0);
            FloatVector a10 = FloatVector.fromArray(F, o, o1 + e).mul(f1), a11 = FloatVector.fromArray(F, o, o1 + e + L).mul(f1);
            FloatVector a12 = FloatVector.fromArray(F, o, o1 + e + L2).mul(f1), a13 = FloatVector.fromArray(F, o, o1 + e + L3).mul(f1);
            FloatVector a20 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a21 = FloatVector.fromArray(F, o, o2 + e + L).mul(f2);
            FloatVector a22 = FloatVector.fromArray(F, o, o2 + e + L2).mul(f2), a23 = FloatVector.fromArray(F, o, o2 + e + L3).mul(f2);
            FloatVector a30 = FloatVector.fromArray(F, o, o3 + e).mul(f3), a31 = FloatVector.fromArray(F, o, o3 + e + L).mul(f3);
            FloatVector a32 = FloatVector.fromArray(F, o, o3 + e + L2).mul(f3), a33 = FloatVector.fromArray(F, o, o3 + e + L3).mul(f3);
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                FloatVector v0 = FloatVector.fromArray(F, v, vb);
                FloatVector v1 = FloatVector.fromArray(F, v, vb + L);
                FloatVector v2 = FloatVector.fromArray(F, v, vb + L2);
                FloatVector v3 = FloatVector.fromArray(F, v, vb + L3);
                FloatVector b = FloatVector.broadcast(F, p[p0 + c]);
                a00 = v0.fma(b, a00);
                a01 = v1.fma(b, a01);
                a02 = v2.fma(b, a02);
                a03 = v3.fma(b, a03);
                b = FloatVector.broadcast(F, p[p1 + c]);
                a10 = v0.fma(b, a10);
                a11 = v1.fma(b, a11);
                a12 = v2.fma(b, a12);
                a13 = v3.fma(b, a13);
                b = FloatVector.broadcast(F, p[p2 + c]);
                a20 = v0.fma(b, a20);
                a21 = v1.fma(b, a21);
                a22 = v2.fma(b, a22);
                a23 = v3.fma(b, a23);
                b = FloatVector.broadcast(F, p[p3 + c]);
                a30 = v0.fma(b, a30);
                a31 = v1.fma(b, a31);
                a32 = v2.fma(b, a32);
                a33 = v3.fma(b, a33);
            }
            a00.intoArray(o, o0 + e);
            a01.intoArray(o, o0 + e + L);
            a02.intoArray(o, o0 + e + L2);
            a03.intoArray(o, o0 + e + L3);
            a10.intoArray(o, o1 + e);
            a11.intoArray(o, o1 + e + L);
            a12.intoArray(o, o1 + e + L2);
            a13.intoArray(o, o1 + e + L3);
            a20.intoArray(o, o2 + e);
            a21.intoArray(o, o2 + e + L);
            a22.intoArray(o, o2 + e + L2);
            a23.intoArray(o, o2 + e + L3);
            a30.intoArray(o, o3 + e);
            a31.intoArray(o, o3 + e + L);
            a32.intoArray(o, o3 + e + L2);
            a33.intoArray(o, o3 + e + L3);
        }
        if (e < dv) {
            // the last (dv % 4 lanes) columns: two rows at a time over the remaining width
            accumulate2(n, dv - e, p, p0, p1, v, vOff + e, vStride, o, o0 + e, o1 + e, f0, f1);
            accumulate2(n, dv - e, p, p2, p3, v, vOff + e, vStride, o, o2 + e, o3 + e, f2, f3);
        }
    }

    /** Two output rows share every value-vector load: {@code 4 * lanes} output columns live in 8 accumulators. */
    private static void accumulate2(int n, int dv, float[] p, int p0, int p1, float[] v, int vOff, int vStride,
                                    float[] o, int o0, int o1, float f0, float f1) {
        int e = 0;
        for (; e <= dv - L4; e += L4) {
            FloatVector a00 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a01 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
            FloatVector a02 = FloatVector.fromArray(F, o, o0 + e + L2).mul(f0), a03 = FloatVector.fromArray(F, o, o0 + e + L3).mul(f0);
            FloatVector a10 = FloatVector.fromArray(F, o, o1 + e).mul(f1), a11 = FloatVector.fromArray(F, o, o1 + e + L).mul(f1);
            FloatVector a12 = FloatVector.fromArray(F, o, o1 + e + L2).mul(f1), a13 = FloatVector.fromArray(F, o, o1 + e + L3).mul(f1);
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                FloatVector v0 = FloatVector.fromArray(F, v, vb);
                FloatVector v1 = FloatVector.fromArray(F, v, vb + L);
                FloatVector v2 = FloatVector.fromArray(F, v, vb + L2);
                FloatVector v3 = FloatVector.fromArray(F, v, vb + L3);
                FloatVector b0 = FloatVector.broadcast(F, p[p0 + c]);
                FloatVector b1 = FloatVector.broadcast(F, p[p1 + c]);
                a00 = v0.fma(b0, a00);
                a01 = v1.fma(b0, a01);
                a02 = v2.fma(b0, a02);
                a03 = v3.fma(b0, a03);
                a10 = v0.fma(b1, a10);
                a11 = v1.fma(b1, a11);
                a12 = v2.fma(b1, a12);
                a13 = v3.fma(b1, a13);
            }
            a00.intoArray(o, o0 + e);
            a01.intoArray(o, o0 + e + L);
            a02.intoArray(o, o0 + e + L2);
            a03.intoArray(o, o0 + e + L3);
            a10.intoArray(o, o1 + e);
            a11.intoArray(o, o1 + e + L);
            a12.intoArray(o, o1 + e + L2);
            a13.intoArray(o, o1 + e + L3);
        }
        for (; e <= dv - L; e += L) {
            FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0);
            FloatVector a1 = FloatVector.fromArray(F, o, o1 + e).mul(f1);
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                FloatVector v0 = FloatVector.fromArray(F, v, vb);
                a0 = v0.fma(FloatVector.broadcast(F, p[p0 + c]), a0);
                a1 = v0.fma(FloatVector.broadcast(F, p[p1 + c]), a1);
            }
            a0.intoArray(o, o0 + e);
            a1.intoArray(o, o1 + e);
        }
        for (; e < dv; e++) {
            float t0 = o[o0 + e] * f0;
            float t1 = o[o1 + e] * f1;
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                float x = v[vb];
                t0 += p[p0 + c] * x;
                t1 += p[p1 + c] * x;
            }
            o[o0 + e] = t0;
            o[o1 + e] = t1;
        }
    }

    private static void accumulate1(int n, int dv, float[] p, int p0, float[] v, int vOff, int vStride, float[] o, int o0,
                                    float f0) {
        int e = 0;
        for (; e <= dv - L4; e += L4) {
            FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a1 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
            FloatVector a2 = FloatVector.fromArray(F, o, o0 + e + L2).mul(f0), a3 = FloatVector.fromArray(F, o, o0 + e + L3).mul(f0);
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                FloatVector b0 = FloatVector.broadcast(F, p[p0 + c]);
                a0 = FloatVector.fromArray(F, v, vb).fma(b0, a0);
                a1 = FloatVector.fromArray(F, v, vb + L).fma(b0, a1);
                a2 = FloatVector.fromArray(F, v, vb + L2).fma(b0, a2);
                a3 = FloatVector.fromArray(F, v, vb + L3).fma(b0, a3);
            }
            a0.intoArray(o, o0 + e);
            a1.intoArray(o, o0 + e + L);
            a2.intoArray(o, o0 + e + L2);
            a3.intoArray(o, o0 + e + L3);
        }
        for (; e <= dv - L; e += L) {
            FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0);
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) {
                a0 = FloatVector.fromArray(F, v, vb).fma(FloatVector.broadcast(F, p[p0 + c]), a0);
            }
            a0.intoArray(o, o0 + e);
        }
        for (; e < dv; e++) {
            float t0 = o[o0 + e] * f0;
            int vb = vOff + e;
            for (int c = 0; c < n; c++, vb += vStride) t0 += p[p0 + c] * v[vb];
            o[o0 + e] = t0;
        }
    }


    /*
     * Reduced KV rows, converted as they are loaded (see CpuKernelSupport). JDK 25's jdk.incubator.vector has no
     * float16 conversion operator (no HF2F; S2F converts the short's integer value), so float16 is widened with
     * integer lane operations instead, bit-exact against Float.float16ToFloat (VectorKernelsTest checks all 65536
     * patterns): bfloat16 is a shift, int8 is B2F.
     */

    /** L bfloat16 values from {@code a[off..]}: the bits shifted into the upper half of a float. */
    static FloatVector bf16(short[] a, int off) {
        IntVector i = (IntVector) ShortVector.fromArray(S, a, off).convertShape(VectorOperators.S2I, I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static final int F16_INF_EXP = 0x7C00;

    /**
     * L float16 values from {@code a[off..]}. Exponent and mantissa moved to float32 positions are the value times
     * 2^-112, exact for normals and subnormals alike, so one multiply rebiases both; exponent 31 (inf, NaN) becomes
     * 255; the sign is or-ed back last.
     */
    static FloatVector f16(short[] a, int off) {
        IntVector i = (IntVector) ShortVector.fromArray(S, a, off).convertShape(VectorOperators.S2I, I, 0);
        IntVector mag = i.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector bits = (IntVector) mag.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        bits = bits.blend(mag.or(0x7F800000), i.and(F16_INF_EXP).compare(VectorOperators.EQ, F16_INF_EXP));
        return bits.or(i.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** L int8 values from {@code a[off..]} as floats (the row's scale is applied by the caller, once). */
    static FloatVector int8(byte[] a, int off) {
        return (FloatVector) ByteVector.fromArray(B, a, off).convertShape(VectorOperators.B2F, F, 0);
    }

    @Override
    public void dotScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                              short[] k, boolean bf16, int kOff, int kStride, float[] s, int sOff, int sStride) {
        if (bf16) dotScoresBf16(rows, n, d, scale, q, qOff, qStride, k, kOff, kStride, s, sOff, sStride);
        else dotScoresF16(rows, n, d, scale, q, qOff, qStride, k, kOff, kStride, s, sOff, sStride);
    }

    @Override
    public void dotScoresInt8(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                              byte[] k, float[] kScales, int pitch, int kOff, int kStride, float[] s, int sOff, int sStride) {
        if (B == null) {
            ScalarCpuKernels.INSTANCE.dotScoresInt8(rows, n, d, scale, q, qOff, qStride, k, kScales, pitch, kOff, kStride,
                    s, sOff, sStride);
        } else {
            dotScoresI8(rows, n, d, scale, q, qOff, qStride, k, kScales, pitch, kOff, kStride, s, sOff, sStride);
        }
    }

    @Override
    public void accumulateRowsHalf(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                   short[] v, boolean bf16, int vOff, int vStride, float[] o, int oOff, int oStride,
                                   float[] oScale) {
        if (bf16) accumulateRowsBf16(rows, n, dv, p, pOff, pStride, v, vOff, vStride, o, oOff, oStride, oScale);
        else accumulateRowsF16(rows, n, dv, p, pOff, pStride, v, vOff, vStride, o, oOff, oStride, oScale);
    }

    @Override
    public void accumulateRowsInt8(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                   byte[] v, float[] vScales, int pitch, int vOff, int vStride, float[] o, int oOff,
                                   int oStride, float[] oScale) {
        if (B == null) {
            ScalarCpuKernels.INSTANCE.accumulateRowsInt8(rows, n, dv, p, pOff, pStride, v, vScales, pitch, vOff, vStride,
                    o, oOff, oStride, oScale);
        } else {
            accumulateRowsI8(rows, n, dv, p, pOff, pStride, v, vScales, pitch, vOff, vStride, o, oOff, oStride, oScale);
        }
    }

    /** {@link #dotScores} over Bf16 key rows, four query rows per converted key load. */
    private static void dotScoresBf16(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                  short[] k, int kOff, int kStride, float[] s, int sOff, int sStride) {
        int r0 = 0;
        for (; r0 + 4 <= rows; r0 += 4) {
            dot4Bf16(n, d, scale, q, qOff + r0 * qStride, qStride, k, kOff, kStride, s, sOff + r0 * sStride, sStride);
        }
        for (int r = r0; r < rows; r += 4) {
            // a block of fewer than four rows repeats its first row in the missing ones: same sums, same stores
            int m = Math.min(4, rows - r);
            int q0 = qOff + r * qStride, q1 = m > 1 ? q0 + qStride : q0, q2 = m > 2 ? q0 + 2 * qStride : q0;
            int q3 = m > 3 ? q0 + 3 * qStride : q0;
            int s0 = sOff + r * sStride, s1 = m > 1 ? s0 + sStride : s0, s2 = m > 2 ? s0 + 2 * sStride : s0;
            int s3 = m > 3 ? s0 + 3 * sStride : s0;
            for (int c = 0; c < n; c++) {
                int kr = kOff + c * kStride;
                FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
                int e = 0;
                for (; e <= d - L; e += L) {
                    FloatVector kv = bf16(k, kr + e);
                    a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                    a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                    a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                    a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
                }
                float t0 = sum(a0), t1 = sum(a1), t2 = sum(a2), t3 = sum(a3);
                for (; e < d; e++) {
                    float kk = Float.intBitsToFloat(k[kr + e] << 16);
                    t0 += q[q0 + e] * kk;
                    t1 += q[q1 + e] * kk;
                    t2 += q[q2 + e] * kk;
                    t3 += q[q3 + e] * kk;
                }
                float f = scale;
                s[s0 + c] = f * t0;
                s[s1 + c] = f * t1;
                s[s2 + c] = f * t2;
                s[s3 + c] = f * t3;
            }
        }
    }

    /** {@link #accumulateRows} over Bf16 value rows: four output rows share every converted value load. */
    private static void accumulateRowsBf16(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                       short[] v, int vOff, int vStride, float[] o, int oOff, int oStride,
                                       float[] oScale) {
        for (int r = 0; r < rows; r += 4) {
            int m = Math.min(4, rows - r); // missing rows repeat the first (see dotScoresBf16)
            int p0 = pOff + r * pStride, p1 = m > 1 ? p0 + pStride : p0, p2 = m > 2 ? p0 + 2 * pStride : p0;
            int p3 = m > 3 ? p0 + 3 * pStride : p0;
            int o0 = oOff + r * oStride, o1 = m > 1 ? o0 + oStride : o0, o2 = m > 2 ? o0 + 2 * oStride : o0;
            int o3 = m > 3 ? o0 + 3 * oStride : o0;
            float f0 = factor(oScale, r), f1 = m > 1 ? factor(oScale, r + 1) : f0, f2 = m > 2 ? factor(oScale, r + 2) : f0;
            float f3 = m > 3 ? factor(oScale, r + 3) : f0;
            int e = 0;
            for (; e <= dv - L2; e += L2) {
                FloatVector a00 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a01 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
                FloatVector a10 = FloatVector.fromArray(F, o, o1 + e).mul(f1), a11 = FloatVector.fromArray(F, o, o1 + e + L).mul(f1);
                FloatVector a20 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a21 = FloatVector.fromArray(F, o, o2 + e + L).mul(f2);
                FloatVector a30 = FloatVector.fromArray(F, o, o3 + e).mul(f3), a31 = FloatVector.fromArray(F, o, o3 + e + L).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    FloatVector v0 = bf16(v, vb);
                    FloatVector v1 = bf16(v, vb + L);
                    FloatVector b = FloatVector.broadcast(F, p[p0 + c]);
                    a00 = v0.fma(b, a00);
                    a01 = v1.fma(b, a01);
                    b = FloatVector.broadcast(F, p[p1 + c]);
                    a10 = v0.fma(b, a10);
                    a11 = v1.fma(b, a11);
                    b = FloatVector.broadcast(F, p[p2 + c]);
                    a20 = v0.fma(b, a20);
                    a21 = v1.fma(b, a21);
                    b = FloatVector.broadcast(F, p[p3 + c]);
                    a30 = v0.fma(b, a30);
                    a31 = v1.fma(b, a31);
                }
                a00.intoArray(o, o0 + e);
                a01.intoArray(o, o0 + e + L);
                a10.intoArray(o, o1 + e);
                a11.intoArray(o, o1 + e + L);
                a20.intoArray(o, o2 + e);
                a21.intoArray(o, o2 + e + L);
                a30.intoArray(o, o3 + e);
                a31.intoArray(o, o3 + e + L);
            }
            for (; e <= dv - L; e += L) {
                FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a1 = FloatVector.fromArray(F, o, o1 + e).mul(f1);
                FloatVector a2 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a3 = FloatVector.fromArray(F, o, o3 + e).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    FloatVector v0 = bf16(v, vb);
                    a0 = v0.fma(FloatVector.broadcast(F, p[p0 + c]), a0);
                    a1 = v0.fma(FloatVector.broadcast(F, p[p1 + c]), a1);
                    a2 = v0.fma(FloatVector.broadcast(F, p[p2 + c]), a2);
                    a3 = v0.fma(FloatVector.broadcast(F, p[p3 + c]), a3);
                }
                a0.intoArray(o, o0 + e);
                a1.intoArray(o, o1 + e);
                a2.intoArray(o, o2 + e);
                a3.intoArray(o, o3 + e);
            }
            for (; e < dv; e++) {
                float t0 = o[o0 + e] * f0, t1 = o[o1 + e] * f1, t2 = o[o2 + e] * f2, t3 = o[o3 + e] * f3;
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    float x = Float.intBitsToFloat(v[vb] << 16);
                    t0 += p[p0 + c] * x;
                    t1 += p[p1 + c] * x;
                    t2 += p[p2 + c] * x;
                    t3 += p[p3 + c] * x;
                }
                o[o0 + e] = t0;
                o[o1 + e] = t1;
                o[o2 + e] = t2;
                o[o3 + e] = t3;
            }
        }
    }

    /** {@link #dotScores} over F16 key rows, four query rows per converted key load. */
    private static void dotScoresF16(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                  short[] k, int kOff, int kStride, float[] s, int sOff, int sStride) {
        int r0 = 0;
        for (; r0 + 4 <= rows; r0 += 4) {
            dot4F16(n, d, scale, q, qOff + r0 * qStride, qStride, k, kOff, kStride, s, sOff + r0 * sStride, sStride);
        }
        for (int r = r0; r < rows; r += 4) {
            // a block of fewer than four rows repeats its first row in the missing ones: same sums, same stores
            int m = Math.min(4, rows - r);
            int q0 = qOff + r * qStride, q1 = m > 1 ? q0 + qStride : q0, q2 = m > 2 ? q0 + 2 * qStride : q0;
            int q3 = m > 3 ? q0 + 3 * qStride : q0;
            int s0 = sOff + r * sStride, s1 = m > 1 ? s0 + sStride : s0, s2 = m > 2 ? s0 + 2 * sStride : s0;
            int s3 = m > 3 ? s0 + 3 * sStride : s0;
            for (int c = 0; c < n; c++) {
                int kr = kOff + c * kStride;
                FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
                int e = 0;
                for (; e <= d - L; e += L) {
                    FloatVector kv = f16(k, kr + e);
                    a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                    a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                    a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                    a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
                }
                float t0 = sum(a0), t1 = sum(a1), t2 = sum(a2), t3 = sum(a3);
                for (; e < d; e++) {
                    float kk = Float.float16ToFloat(k[kr + e]);
                    t0 += q[q0 + e] * kk;
                    t1 += q[q1 + e] * kk;
                    t2 += q[q2 + e] * kk;
                    t3 += q[q3 + e] * kk;
                }
                float f = scale;
                s[s0 + c] = f * t0;
                s[s1 + c] = f * t1;
                s[s2 + c] = f * t2;
                s[s3 + c] = f * t3;
            }
        }
    }

    /** {@link #accumulateRows} over F16 value rows: four output rows share every converted value load. */
    private static void accumulateRowsF16(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                       short[] v, int vOff, int vStride, float[] o, int oOff, int oStride,
                                       float[] oScale) {
        for (int r = 0; r < rows; r += 4) {
            int m = Math.min(4, rows - r); // missing rows repeat the first (see dotScoresF16)
            int p0 = pOff + r * pStride, p1 = m > 1 ? p0 + pStride : p0, p2 = m > 2 ? p0 + 2 * pStride : p0;
            int p3 = m > 3 ? p0 + 3 * pStride : p0;
            int o0 = oOff + r * oStride, o1 = m > 1 ? o0 + oStride : o0, o2 = m > 2 ? o0 + 2 * oStride : o0;
            int o3 = m > 3 ? o0 + 3 * oStride : o0;
            float f0 = factor(oScale, r), f1 = m > 1 ? factor(oScale, r + 1) : f0, f2 = m > 2 ? factor(oScale, r + 2) : f0;
            float f3 = m > 3 ? factor(oScale, r + 3) : f0;
            int e = 0;
            for (; e <= dv - L2; e += L2) {
                FloatVector a00 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a01 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
                FloatVector a10 = FloatVector.fromArray(F, o, o1 + e).mul(f1), a11 = FloatVector.fromArray(F, o, o1 + e + L).mul(f1);
                FloatVector a20 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a21 = FloatVector.fromArray(F, o, o2 + e + L).mul(f2);
                FloatVector a30 = FloatVector.fromArray(F, o, o3 + e).mul(f3), a31 = FloatVector.fromArray(F, o, o3 + e + L).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    FloatVector v0 = f16(v, vb);
                    FloatVector v1 = f16(v, vb + L);
                    FloatVector b = FloatVector.broadcast(F, p[p0 + c]);
                    a00 = v0.fma(b, a00);
                    a01 = v1.fma(b, a01);
                    b = FloatVector.broadcast(F, p[p1 + c]);
                    a10 = v0.fma(b, a10);
                    a11 = v1.fma(b, a11);
                    b = FloatVector.broadcast(F, p[p2 + c]);
                    a20 = v0.fma(b, a20);
                    a21 = v1.fma(b, a21);
                    b = FloatVector.broadcast(F, p[p3 + c]);
                    a30 = v0.fma(b, a30);
                    a31 = v1.fma(b, a31);
                }
                a00.intoArray(o, o0 + e);
                a01.intoArray(o, o0 + e + L);
                a10.intoArray(o, o1 + e);
                a11.intoArray(o, o1 + e + L);
                a20.intoArray(o, o2 + e);
                a21.intoArray(o, o2 + e + L);
                a30.intoArray(o, o3 + e);
                a31.intoArray(o, o3 + e + L);
            }
            for (; e <= dv - L; e += L) {
                FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a1 = FloatVector.fromArray(F, o, o1 + e).mul(f1);
                FloatVector a2 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a3 = FloatVector.fromArray(F, o, o3 + e).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    FloatVector v0 = f16(v, vb);
                    a0 = v0.fma(FloatVector.broadcast(F, p[p0 + c]), a0);
                    a1 = v0.fma(FloatVector.broadcast(F, p[p1 + c]), a1);
                    a2 = v0.fma(FloatVector.broadcast(F, p[p2 + c]), a2);
                    a3 = v0.fma(FloatVector.broadcast(F, p[p3 + c]), a3);
                }
                a0.intoArray(o, o0 + e);
                a1.intoArray(o, o1 + e);
                a2.intoArray(o, o2 + e);
                a3.intoArray(o, o3 + e);
            }
            for (; e < dv; e++) {
                float t0 = o[o0 + e] * f0, t1 = o[o1 + e] * f1, t2 = o[o2 + e] * f2, t3 = o[o3 + e] * f3;
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    float x = Float.float16ToFloat(v[vb]);
                    t0 += p[p0 + c] * x;
                    t1 += p[p1 + c] * x;
                    t2 += p[p2 + c] * x;
                    t3 += p[p3 + c] * x;
                }
                o[o0 + e] = t0;
                o[o1 + e] = t1;
                o[o2 + e] = t2;
                o[o3 + e] = t3;
            }
        }
    }

    /** {@link #dotScores} over Int8 key rows, four query rows per converted key load. */
    private static void dotScoresI8(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                    byte[] k, float[] scales, int pitch, int kOff, int kStride, float[] s, int sOff, int sStride) {
        int scale0 = kOff / pitch;
        int scaleStep = kStride / pitch; // rows are whole scale rows (KvSource.readableInPlace)
        int r0 = 0;
        for (; r0 + 4 <= rows; r0 += 4) {
            dot4I8(n, d, scale, q, qOff + r0 * qStride, qStride, k, scales, pitch, kOff, kStride, s, sOff + r0 * sStride, sStride);
        }
        for (int r = r0; r < rows; r += 4) {
            // a block of fewer than four rows repeats its first row in the missing ones: same sums, same stores
            int m = Math.min(4, rows - r);
            int q0 = qOff + r * qStride, q1 = m > 1 ? q0 + qStride : q0, q2 = m > 2 ? q0 + 2 * qStride : q0;
            int q3 = m > 3 ? q0 + 3 * qStride : q0;
            int s0 = sOff + r * sStride, s1 = m > 1 ? s0 + sStride : s0, s2 = m > 2 ? s0 + 2 * sStride : s0;
            int s3 = m > 3 ? s0 + 3 * sStride : s0;
            for (int c = 0; c < n; c++) {
                int kr = kOff + c * kStride;
                FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
                int e = 0;
                for (; e <= d - L; e += L) {
                    FloatVector kv = int8(k, kr + e);
                    a0 = FloatVector.fromArray(F, q, q0 + e).fma(kv, a0);
                    a1 = FloatVector.fromArray(F, q, q1 + e).fma(kv, a1);
                    a2 = FloatVector.fromArray(F, q, q2 + e).fma(kv, a2);
                    a3 = FloatVector.fromArray(F, q, q3 + e).fma(kv, a3);
                }
                float t0 = sum(a0), t1 = sum(a1), t2 = sum(a2), t3 = sum(a3);
                for (; e < d; e++) {
                    float kk = k[kr + e];
                    t0 += q[q0 + e] * kk;
                    t1 += q[q1 + e] * kk;
                    t2 += q[q2 + e] * kk;
                    t3 += q[q3 + e] * kk;
                }
                float f = scale * scales[scale0 + c * scaleStep];
                s[s0 + c] = f * t0;
                s[s1 + c] = f * t1;
                s[s2 + c] = f * t2;
                s[s3 + c] = f * t3;
            }
        }
    }

    /** {@link #accumulateRows} over Int8 value rows: four output rows share every converted value load. */
    private static void accumulateRowsI8(int rows, int n, int dv, float[] p, int pOff, int pStride,
                                         byte[] v, float[] scales, int pitch, int vOff, int vStride, float[] o, int oOff,
                                         int oStride, float[] oScale) {
        int scale0 = vOff / pitch;
        int scaleStep = vStride / pitch;
        for (int r = 0; r < rows; r += 4) {
            int m = Math.min(4, rows - r); // missing rows repeat the first (see dotScoresI8)
            int p0 = pOff + r * pStride, p1 = m > 1 ? p0 + pStride : p0, p2 = m > 2 ? p0 + 2 * pStride : p0;
            int p3 = m > 3 ? p0 + 3 * pStride : p0;
            int o0 = oOff + r * oStride, o1 = m > 1 ? o0 + oStride : o0, o2 = m > 2 ? o0 + 2 * oStride : o0;
            int o3 = m > 3 ? o0 + 3 * oStride : o0;
            float f0 = factor(oScale, r), f1 = m > 1 ? factor(oScale, r + 1) : f0, f2 = m > 2 ? factor(oScale, r + 2) : f0;
            float f3 = m > 3 ? factor(oScale, r + 3) : f0;
            int e = 0;
            for (; e <= dv - L2; e += L2) {
                FloatVector a00 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a01 = FloatVector.fromArray(F, o, o0 + e + L).mul(f0);
                FloatVector a10 = FloatVector.fromArray(F, o, o1 + e).mul(f1), a11 = FloatVector.fromArray(F, o, o1 + e + L).mul(f1);
                FloatVector a20 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a21 = FloatVector.fromArray(F, o, o2 + e + L).mul(f2);
                FloatVector a30 = FloatVector.fromArray(F, o, o3 + e).mul(f3), a31 = FloatVector.fromArray(F, o, o3 + e + L).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    float w = scales[scale0 + c * scaleStep]; // the row's scale, folded into its weights
                    FloatVector v0 = int8(v, vb);
                    FloatVector v1 = int8(v, vb + L);
                    FloatVector b = FloatVector.broadcast(F, p[p0 + c] * w);
                    a00 = v0.fma(b, a00);
                    a01 = v1.fma(b, a01);
                    b = FloatVector.broadcast(F, p[p1 + c] * w);
                    a10 = v0.fma(b, a10);
                    a11 = v1.fma(b, a11);
                    b = FloatVector.broadcast(F, p[p2 + c] * w);
                    a20 = v0.fma(b, a20);
                    a21 = v1.fma(b, a21);
                    b = FloatVector.broadcast(F, p[p3 + c] * w);
                    a30 = v0.fma(b, a30);
                    a31 = v1.fma(b, a31);
                }
                a00.intoArray(o, o0 + e);
                a01.intoArray(o, o0 + e + L);
                a10.intoArray(o, o1 + e);
                a11.intoArray(o, o1 + e + L);
                a20.intoArray(o, o2 + e);
                a21.intoArray(o, o2 + e + L);
                a30.intoArray(o, o3 + e);
                a31.intoArray(o, o3 + e + L);
            }
            for (; e <= dv - L; e += L) {
                FloatVector a0 = FloatVector.fromArray(F, o, o0 + e).mul(f0), a1 = FloatVector.fromArray(F, o, o1 + e).mul(f1);
                FloatVector a2 = FloatVector.fromArray(F, o, o2 + e).mul(f2), a3 = FloatVector.fromArray(F, o, o3 + e).mul(f3);
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    float w = scales[scale0 + c * scaleStep]; // the row's scale, folded into its weights
                    FloatVector v0 = int8(v, vb);
                    a0 = v0.fma(FloatVector.broadcast(F, p[p0 + c] * w), a0);
                    a1 = v0.fma(FloatVector.broadcast(F, p[p1 + c] * w), a1);
                    a2 = v0.fma(FloatVector.broadcast(F, p[p2 + c] * w), a2);
                    a3 = v0.fma(FloatVector.broadcast(F, p[p3 + c] * w), a3);
                }
                a0.intoArray(o, o0 + e);
                a1.intoArray(o, o1 + e);
                a2.intoArray(o, o2 + e);
                a3.intoArray(o, o3 + e);
            }
            for (; e < dv; e++) {
                float t0 = o[o0 + e] * f0, t1 = o[o1 + e] * f1, t2 = o[o2 + e] * f2, t3 = o[o3 + e] * f3;
                int vb = vOff + e;
                for (int c = 0; c < n; c++, vb += vStride) {
                    float w = scales[scale0 + c * scaleStep]; // the row's scale, folded into its weights
                    float x = v[vb];
                    t0 += p[p0 + c] * w * x;
                    t1 += p[p1 + c] * w * x;
                    t2 += p[p2 + c] * w * x;
                    t3 += p[p3 + c] * w * x;
                }
                o[o0 + e] = t0;
                o[o1 + e] = t1;
                o[o2 + e] = t2;
                o[o3 + e] = t3;
            }
        }
    }


    @Override
    public void transposedScoresHalf(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                     short[] kt, boolean bf16, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        if (bf16) transposedScoresBf16(rows, n, d, scale, q, qOff, qStride, kt, ktOff, ktStride, s, sOff, sStride);
        else transposedScoresF16(rows, n, d, scale, q, qOff, qStride, kt, ktOff, ktStride, s, sOff, sStride);
    }

    /**
     * {@link #transposedScores} over Bf16 keys stored transposed: four query rows (a block of fewer repeats its first
     * row: same sums, same stores) against two vectors of key columns, each converted once for the four rows; then
     * one vector; the last {@code n % lanes} columns are scalar.
     */
    private static void transposedScoresBf16(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                             short[] kt, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r += 4) {
            int m = Math.min(4, rows - r);
            int q0 = qOff + r * qStride, q1 = m > 1 ? q0 + qStride : q0, q2 = m > 2 ? q0 + 2 * qStride : q0;
            int q3 = m > 3 ? q0 + 3 * qStride : q0;
            int s0 = sOff + r * sStride, s1 = m > 1 ? s0 + sStride : s0, s2 = m > 2 ? s0 + 2 * sStride : s0;
            int s3 = m > 3 ? s0 + 3 * sStride : s0;
            int c = 0;
            for (; c <= n - L2; c += L2) {
                FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a10 = FloatVector.zero(F), a11 = FloatVector.zero(F);
                FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a30 = FloatVector.zero(F), a31 = FloatVector.zero(F);
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    FloatVector k0 = bf16(kt, kb);
                    FloatVector k1 = bf16(kt, kb + L);
                    FloatVector b = FloatVector.broadcast(F, q[q0 + e]);
                    a00 = k0.fma(b, a00);
                    a01 = k1.fma(b, a01);
                    b = FloatVector.broadcast(F, q[q1 + e]);
                    a10 = k0.fma(b, a10);
                    a11 = k1.fma(b, a11);
                    b = FloatVector.broadcast(F, q[q2 + e]);
                    a20 = k0.fma(b, a20);
                    a21 = k1.fma(b, a21);
                    b = FloatVector.broadcast(F, q[q3 + e]);
                    a30 = k0.fma(b, a30);
                    a31 = k1.fma(b, a31);
                }
                a00.mul(scale).intoArray(s, s0 + c);
                a01.mul(scale).intoArray(s, s0 + c + L);
                a10.mul(scale).intoArray(s, s1 + c);
                a11.mul(scale).intoArray(s, s1 + c + L);
                a20.mul(scale).intoArray(s, s2 + c);
                a21.mul(scale).intoArray(s, s2 + c + L);
                a30.mul(scale).intoArray(s, s3 + c);
                a31.mul(scale).intoArray(s, s3 + c + L);
            }
            for (; c <= n - L; c += L) {
                FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    FloatVector k0 = bf16(kt, kb);
                    a0 = k0.fma(FloatVector.broadcast(F, q[q0 + e]), a0);
                    a1 = k0.fma(FloatVector.broadcast(F, q[q1 + e]), a1);
                    a2 = k0.fma(FloatVector.broadcast(F, q[q2 + e]), a2);
                    a3 = k0.fma(FloatVector.broadcast(F, q[q3 + e]), a3);
                }
                a0.mul(scale).intoArray(s, s0 + c);
                a1.mul(scale).intoArray(s, s1 + c);
                a2.mul(scale).intoArray(s, s2 + c);
                a3.mul(scale).intoArray(s, s3 + c);
            }
            for (; c < n; c++) { // tail columns: a strided walk down one key, rare (the last tile of a sequence)
                float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    float x = Float.intBitsToFloat(kt[kb] << 16);
                    t0 += q[q0 + e] * x;
                    t1 += q[q1 + e] * x;
                    t2 += q[q2 + e] * x;
                    t3 += q[q3 + e] * x;
                }
                s[s0 + c] = scale * t0;
                s[s1 + c] = scale * t1;
                s[s2 + c] = scale * t2;
                s[s3 + c] = scale * t3;
            }
        }
    }

    /**
     * {@link #transposedScores} over F16 keys stored transposed: four query rows (a block of fewer repeats its first
     * row: same sums, same stores) against two vectors of key columns, each converted once for the four rows; then
     * one vector; the last {@code n % lanes} columns are scalar.
     */
    private static void transposedScoresF16(int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                                             short[] kt, int ktOff, int ktStride, float[] s, int sOff, int sStride) {
        for (int r = 0; r < rows; r += 4) {
            int m = Math.min(4, rows - r);
            int q0 = qOff + r * qStride, q1 = m > 1 ? q0 + qStride : q0, q2 = m > 2 ? q0 + 2 * qStride : q0;
            int q3 = m > 3 ? q0 + 3 * qStride : q0;
            int s0 = sOff + r * sStride, s1 = m > 1 ? s0 + sStride : s0, s2 = m > 2 ? s0 + 2 * sStride : s0;
            int s3 = m > 3 ? s0 + 3 * sStride : s0;
            int c = 0;
            for (; c <= n - L2; c += L2) {
                FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a10 = FloatVector.zero(F), a11 = FloatVector.zero(F);
                FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a30 = FloatVector.zero(F), a31 = FloatVector.zero(F);
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    FloatVector k0 = f16(kt, kb);
                    FloatVector k1 = f16(kt, kb + L);
                    FloatVector b = FloatVector.broadcast(F, q[q0 + e]);
                    a00 = k0.fma(b, a00);
                    a01 = k1.fma(b, a01);
                    b = FloatVector.broadcast(F, q[q1 + e]);
                    a10 = k0.fma(b, a10);
                    a11 = k1.fma(b, a11);
                    b = FloatVector.broadcast(F, q[q2 + e]);
                    a20 = k0.fma(b, a20);
                    a21 = k1.fma(b, a21);
                    b = FloatVector.broadcast(F, q[q3 + e]);
                    a30 = k0.fma(b, a30);
                    a31 = k1.fma(b, a31);
                }
                a00.mul(scale).intoArray(s, s0 + c);
                a01.mul(scale).intoArray(s, s0 + c + L);
                a10.mul(scale).intoArray(s, s1 + c);
                a11.mul(scale).intoArray(s, s1 + c + L);
                a20.mul(scale).intoArray(s, s2 + c);
                a21.mul(scale).intoArray(s, s2 + c + L);
                a30.mul(scale).intoArray(s, s3 + c);
                a31.mul(scale).intoArray(s, s3 + c + L);
            }
            for (; c <= n - L; c += L) {
                FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    FloatVector k0 = f16(kt, kb);
                    a0 = k0.fma(FloatVector.broadcast(F, q[q0 + e]), a0);
                    a1 = k0.fma(FloatVector.broadcast(F, q[q1 + e]), a1);
                    a2 = k0.fma(FloatVector.broadcast(F, q[q2 + e]), a2);
                    a3 = k0.fma(FloatVector.broadcast(F, q[q3 + e]), a3);
                }
                a0.mul(scale).intoArray(s, s0 + c);
                a1.mul(scale).intoArray(s, s1 + c);
                a2.mul(scale).intoArray(s, s2 + c);
                a3.mul(scale).intoArray(s, s3 + c);
            }
            for (; c < n; c++) { // tail columns: a strided walk down one key, rare (the last tile of a sequence)
                float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                int kb = ktOff + c;
                for (int e = 0; e < d; e++, kb += ktStride) {
                    float x = Float.float16ToFloat(kt[kb]);
                    t0 += q[q0 + e] * x;
                    t1 += q[q1 + e] * x;
                    t2 += q[q2 + e] * x;
                    t3 += q[q3 + e] * x;
                }
                s[s0 + c] = scale * t0;
                s[s1 + c] = scale * t1;
                s[s2 + c] = scale * t2;
                s[s3 + c] = scale * t3;
            }
        }
    }

}
