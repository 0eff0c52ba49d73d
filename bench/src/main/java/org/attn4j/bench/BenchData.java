package org.attn4j.bench;

import java.util.SplittableRandom;

/**
 * The random float32 inputs of a workload, created once and shared by attn4j and the peer so that both compute the
 * same thing. Layout is the logical {@code [B, H, L, D]} (BNSH), row-major. Values are uniform in [-1, 1).
 *
 * @param workload the shape
 * @param q        {@code [B, Hq, Lq, D]}
 * @param k        {@code [B, Hkv, Lk, D]} (MLA: the latent cache {@code [B, 1, Lk, c + rope]})
 * @param v        {@code [B, Hkv, Lk, Dv]} (MLA: its first {@code c} columns, copied, for implementations that
 *                 need a separate value tensor)
 */
public record BenchData(Workload workload, float[] q, float[] k, float[] v) {

    /** Inputs for {@code w} from {@code seed}. */
    public static BenchData random(Workload w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] q = uniform(r, (long) w.batch() * w.qHeads() * w.qLen() * w.headDim());
        float[] k = uniform(r, (long) w.batch() * w.kvHeads() * w.kvLen() * w.headDim());
        float[] v;
        if (w.mla() != null) {
            v = latentValues(k, w.batch() * w.kvLen(), w.headDim(), w.vHeadDim());
        } else {
            v = uniform(r, (long) w.batch() * w.kvHeads() * w.kvLen() * w.vHeadDim());
        }
        return new BenchData(w, q, k, v);
    }

    /** The first {@code vWidth} columns of each {@code width}-wide row. */
    static float[] latentValues(float[] latent, int rows, int width, int vWidth) {
        float[] v = new float[Math.multiplyExact(rows, vWidth)];
        for (int t = 0; t < rows; t++) System.arraycopy(latent, t * width, v, t * vWidth, vWidth);
        return v;
    }

    static float[] uniform(SplittableRandom r, long n) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }
}
