package org.attn4j.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.attn4j.api.AttentionException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * How fast this JVM streams memory when the loaded data feeds arithmetic, as decode does: the question behind
 * D1/D2's gap to {@code attn bench}'s DRAM figure (a plain sum). Two buffers of D1's K and V size (67 MB each) are
 * read by all threads, each its half, in four ways:
 * <ul>
 *   <li>{@code sum}: K then V, each summed with vector adds (the DRAM read figure's loop);</li>
 *   <li>{@code tiles}: 32 KB of K, then 32 KB of V, alternating (decode's order over a tiled cache), summed;</li>
 *   <li>{@code tiles+fma}: the same, plus ~4096 independent vector FMAs per K/V tile pair (the FMA peak's loop), in a phase of their own:
 *       D1's FMA count per tile (4 query rows x 64 keys x (128 + 128) / 16 lanes);</li>
 *   <li>{@code fed}: the same loads, each loaded vector feeding 4 FMAs (4 query rows per key, as GQA 32/8 decode).</li>
 * </ul>
 * Each line is the best of {@code passes} in GB/s of K/V bytes read, the same unit as D1. Timings are printed,
 * never checked.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:+UseTransparentHugePages -cp bench/target/benchmarks.jar org.attn4j.bench.StreamProbe [threads] [passes] [rounds]
 * </pre>
 */
public final class StreamProbe {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int TILE = 8192;       // floats: 32 KB, one D1 tile of K (or of V)
    private static final int TILE_FMAS = 4096;  // vector FMAs per K/V tile pair in D1 at 16 lanes (4092 run: 341 x 12 chains)
    static final String[] MODES = {"sum", "tiles", "tiles+fma", "fed"};

    private StreamProbe() {
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int passes = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int floats = 16384 * 8 * 128; // D1: KV 16384, 8 KV heads, d 128
        System.out.println("threads " + threads + ", " + S.length() + " float lanes, two buffers of " + 4L * floats / 1_000_000
                + " MB, best of " + passes + " passes, modes interleaved");
        for (String line : probe(threads, floats, passes, rounds)) System.out.println(line);
    }

    /** The report lines: one per mode and round (visible for the smoke test). */
    static List<String> probe(int threads, int floats, int passes, int rounds) {
        AttentionException.require(threads >= 1, "threads", ">= 1", threads);
        int slice = floats / threads / TILE * TILE;
        AttentionException.require(slice > 0, "floats", ">= " + (long) threads * TILE, floats);
        float[] k = new float[floats];
        float[] v = new float[floats];
        Arrays.fill(k, 1f);
        Arrays.fill(v, 0.5f);
        for (int mode = 0; mode < MODES.length; mode++) {
            for (int i = 0; i < 200; i++) work(mode, k, v, 0, TILE); // compile every loop as a whole method first
        }
        List<String> out = new ArrayList<>();
        double bytes = 2.0 * 4 * slice * threads;
        for (int round = 0; round < rounds; round++) {
            for (int mode = 0; mode < MODES.length; mode++) {
                final int m = mode;
                double best = Double.MAX_VALUE;
                for (int p = 0; p < passes; p++) {
                    double sec = MachineLimits.parallelSeconds(threads, t -> work(m, k, v, t * slice, t * slice + slice));
                    best = Math.min(best, sec);
                }
                out.add(String.format(Locale.ROOT, "round %d %-10s %6.1f GB/s", round + 1, MODES[mode], bytes / best / 1e9));
            }
        }
        return out;
    }

    private static double work(int mode, float[] k, float[] v, int from, int to) {
        double keep = 0;
        if (mode == 0) {
            for (int x = from; x < to; x += TILE) keep += MachineLimits.sum(k, x, TILE);
            for (int x = from; x < to; x += TILE) keep += MachineLimits.sum(v, x, TILE);
            return keep;
        }
        for (int x = from; x < to; x += TILE) {
            if (mode == 3) {
                keep += fed(k, x, TILE) + fed(v, x, TILE);
            } else {
                keep += MachineLimits.sum(k, x, TILE) + MachineLimits.sum(v, x, TILE);
                if (mode == 2) keep += MachineLimits.fmaChains(TILE_FMAS / MachineLimits.CHAINS); // the FMA peak's loop
            }
        }
        return keep;
    }

    /** Every loaded vector feeds four FMAs (eight accumulators over two loads per step). */
    private static double fed(float[] a, int from, int n) {
        int step = S.length();
        FloatVector w = FloatVector.broadcast(S, 0.999f);
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int i = from; i + 2 * step <= from + n; i += 2 * step) {
            FloatVector x = FloatVector.fromArray(S, a, i);
            FloatVector y = FloatVector.fromArray(S, a, i + step);
            a0 = x.fma(w, a0);
            a1 = x.fma(w, a1);
            a2 = x.fma(w, a2);
            a3 = x.fma(w, a3);
            a4 = y.fma(w, a4);
            a5 = y.fma(w, a5);
            a6 = y.fma(w, a6);
            a7 = y.fma(w, a7);
        }
        return a0.add(a1).add(a2.add(a3)).add(a4.add(a5).add(a6.add(a7))).reduceLanes(VectorOperators.ADD);
    }
}
