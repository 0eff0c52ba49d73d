package org.attn4j.bench;

import org.attn4j.kernels.cpu.CpuKernelSupport;
import org.attn4j.kernels.cpu.CpuKernels;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The cpu kernels one at a time, on one thread, with operands in L1: how fast each building block of
 * {@code FlashEngine} is on its own, to compare with what a whole call achieves (docs/PERFORMANCE.md, "What limits
 * each workload"). Prints one line per kernel, best of {@code rounds} rounds.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar org.attn4j.bench.KernelProbe [rounds] [iterations]
 * </pre>
 * <ul>
 *   <li>{@code scores}: {@code transposedScores}, 4 query rows x 64 transposed key columns (the prefill and
 *       tiled-cache decode kernel), d 64 and 128, in GFLOP/s.</li>
 *   <li>{@code dot}: {@code dotScores} against 64 row-major keys (decode over contiguous/paged caches, M1's latent
 *       cache), 4 rows, d 128 and 576, in ns per key and GFLOP/s.</li>
 *   <li>{@code pv}: {@code accumulateRows}, 4 rows x 64 keys, dv 64 and 128, in GFLOP/s.</li>
 *   <li>{@code softmax}: {@code onlineSoftmax} of 4 rows x 64 scores, in ns per call.</li>
 *   <li>{@code p2-item}: one work item of P2 (one head, 128 queries x 1024 keys, d 64) as {@code FlashEngine}
 *       runs it: per 128-key tile, the scores of every 4-row block, then each block's softmax and {@code P V} (which
 *       also rescales the accumulator); in microseconds per item, with the share of each step.</li>
 * </ul>
 * Timings are printed, never checked: this is a measuring tool, like {@code attn bench}.
 */
public final class KernelProbe {
    private static final int TILE = 64;
    private static final int ROWS = 4;

    private KernelProbe() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
        CpuKernelSupport k = CpuKernels.get();
        System.out.println("kernels: " + k.name() + ", one thread, best of " + rounds + " rounds");
        for (String line : probe(k, rounds, iterations)) System.out.println(line);
    }

    /** The report lines (visible for the smoke test). */
    static String[] probe(CpuKernelSupport k, int rounds, int iterations) {
        SplittableRandom rng = new SplittableRandom(7);
        String[] out = new String[8];
        int n = 0;
        for (int d : new int[]{64, 128}) {
            float[] q = BenchData.uniform(rng, ROWS * d);
            float[] kt = BenchData.uniform(rng, d * TILE);
            float[] s = new float[ROWS * TILE];
            double best = best(rounds, () -> {
                for (int i = 0; i < iterations; i++) k.transposedScores(ROWS, TILE, d, 0.1f, q, 0, d, kt, 0, TILE, s, 0, TILE);
            });
            out[n++] = String.format(Locale.ROOT, "scores   d %3d: %6.1f GFLOP/s", d, 2.0 * ROWS * TILE * d * iterations / best);
        }
        for (int d : new int[]{128, 576}) { // D1's head_dim and M1's latent width (keys of a row-major latent cache)
            float[] q = BenchData.uniform(rng, ROWS * d);
            float[] keys = BenchData.uniform(rng, TILE * d);
            float[] s = new float[ROWS * TILE];
            double best = best(rounds, () -> {
                for (int i = 0; i < iterations; i++) k.dotScores(ROWS, TILE, d, 0.1f, q, 0, d, keys, 0, d, s, 0, TILE);
            });
            out[n++] = String.format(Locale.ROOT, "dot      d %3d: %6.2f ns per key (4 rows), %6.1f GFLOP/s", d,
                    best / iterations / TILE, 2.0 * ROWS * TILE * d * iterations / best);
        }
        for (int dv : new int[]{64, 128}) {
            float[] p = BenchData.uniform(rng, ROWS * TILE);
            float[] v = BenchData.uniform(rng, TILE * dv);
            float[] o = new float[ROWS * dv];
            double best = best(rounds, () -> {
                for (int i = 0; i < iterations; i++) k.accumulateRows(ROWS, TILE, dv, p, 0, TILE, v, 0, dv, o, 0, dv, null);
            });
            out[n++] = String.format(Locale.ROOT, "pv      dv %3d: %6.1f GFLOP/s", dv, 2.0 * ROWS * TILE * dv * iterations / best);
        }
        {
            float[] scores = BenchData.uniform(rng, ROWS * TILE);
            float[] s = new float[ROWS * TILE];
            float[] m = new float[ROWS];
            float[] l = new float[ROWS];
            float[] alpha = new float[ROWS];
            double best = best(rounds, () -> {
                for (int i = 0; i < iterations; i++) {
                    System.arraycopy(scores, 0, s, 0, s.length); // the softmax overwrites its scores
                    Arrays.fill(m, Float.NEGATIVE_INFINITY);
                    k.onlineSoftmax(ROWS, TILE, s, 0, TILE, m, l, 0, 1, alpha);
                }
            });
            out[n++] = String.format(Locale.ROOT, "softmax 4 x %d: %6.1f ns per call (incl. a %d-float copy)", TILE, best / iterations,
                    s.length);
        }
        out[n] = p2Item(k, rng, rounds, Math.max(1, iterations / 100));
        return out;
    }

    /**
     * One P2 work item, step by step as FlashEngine runs it, with the time of each step: keys packed per tile
     * ({@code [tiles][D][tile]}, 128-key tiles for d 64), per tile first the scores of all 32 row blocks, then
     * each block's softmax and {@code P V}.
     */
    private static String p2Item(CpuKernelSupport k, SplittableRandom rng, int rounds, int items) {
        int d = 64, dv = 64, len = 1024, rows = 128, tile = 128, blocks = rows / ROWS;
        float[] q = BenchData.uniform(rng, rows * d);
        float[] kt = BenchData.uniform(rng, len * d); // [len / tile][d][tile]
        float[] v = BenchData.uniform(rng, len * dv);
        float[] o = new float[rows * dv];
        float[] s = new float[blocks * ROWS * tile];
        float[] m = new float[rows];
        float[] l = new float[rows];
        float[] alpha = new float[ROWS];
        double bestTotal = Double.MAX_VALUE;
        long[] bestSteps = new long[3];
        for (int round = 0; round < rounds; round++) {
            long[] steps = new long[3];
            long start = System.nanoTime();
            for (int item = 0; item < items; item++) {
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                Arrays.fill(l, 0f);
                Arrays.fill(o, 0f);
                for (int j0 = 0; j0 < len; j0 += tile) {
                    long t0 = System.nanoTime();
                    for (int r0 = 0; r0 < rows; r0 += ROWS) {
                        k.transposedScores(ROWS, tile, d, 0.125f, q, r0 * d, d, kt, j0 * d, tile, s, r0 * tile, tile);
                    }
                    steps[0] += System.nanoTime() - t0;
                    for (int r0 = 0; r0 < rows; r0 += ROWS) {
                        long t1 = System.nanoTime();
                        k.onlineSoftmax(ROWS, tile, s, r0 * tile, tile, m, l, r0, 1, alpha);
                        long t2 = System.nanoTime();
                        k.accumulateRows(ROWS, tile, dv, s, r0 * tile, tile, v, j0 * dv, dv, o, r0 * dv, dv, alpha);
                        long t3 = System.nanoTime();
                        steps[1] += t2 - t1;
                        steps[2] += t3 - t2;
                    }
                }
            }
            double total = System.nanoTime() - start;
            if (total < bestTotal) {
                bestTotal = total;
                bestSteps = steps;
            }
        }
        double us = bestTotal / items / 1e3;
        return String.format(Locale.ROOT, "p2-item: %6.1f us per item (scores %.1f, softmax %.1f, pv %.1f; timer calls included)",
                us, bestSteps[0] / 1e3 / items, bestSteps[1] / 1e3 / items, bestSteps[2] / 1e3 / items);
    }

    private static double best(int rounds, Runnable body) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            body.run();
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best;
    }
}
