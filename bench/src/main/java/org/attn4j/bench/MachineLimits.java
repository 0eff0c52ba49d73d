package org.attn4j.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.attn4j.api.AttentionException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntToDoubleFunction;

/**
 * The two machine limits the workloads are judged against, measured in the running JVM on all cores:
 * the float32 FMA peak (a Vector API loop of independent FMA chains) and the DRAM read bandwidth (vector loads
 * streaming through a buffer much larger than the last-level cache). Best of several passes, after warm-up.
 *
 * @param fmaGflops peak float32 GFLOP/s, counting an FMA as 2 operations per lane
 * @param dramGBs   DRAM read bandwidth, GB/s (10^9 bytes)
 * @param threads   threads that ran (one per core)
 * @param lanes     float lanes of the vector species used
 */
public record MachineLimits(double fmaGflops, double dramGBs, int threads, int lanes) {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Independent FMA chains: latency (4 cycles) × FMA pipes (2) = 8 is the minimum to saturate; 12 leaves slack. */
    static final int CHAINS = 12;

    /**
     * How long to measure.
     *
     * @param fmaIterations iterations of the 12-chain FMA loop per thread per pass
     * @param bufferBytes   size of the streamed buffer (should be many times the L3)
     * @param passes        timed passes (best kept)
     */
    public record Settings(long fmaIterations, long bufferBytes, int passes) {
        public Settings {
            AttentionException.require(fmaIterations >= 1, "fmaIterations", ">= 1", fmaIterations);
            AttentionException.require(bufferBytes >= 4096, "bufferBytes", ">= 4096", bufferBytes);
            AttentionException.require(passes >= 1, "passes", ">= 1", passes);
        }

        /** About 2-3 s in all: 1 GiB streamed (or a quarter of the heap when smaller), 5 passes. */
        public static Settings standard() {
            long heapQuarter = Runtime.getRuntime().maxMemory() / 4;
            return new Settings(40_000_000, Math.min(1L << 30, heapQuarter), 5);
        }

        /** Milliseconds; the numbers are only plausible, not the machine's limits (for tests). */
        public static Settings quick() {
            return new Settings(200_000, 8L << 20, 2);
        }
    }

    /** Measures both limits with {@code threads} threads. */
    public static MachineLimits measure(int threads, Settings settings) {
        AttentionException.require(threads >= 1, "threads", ">= 1", threads);
        double fma = fmaPeakGflops(threads, settings.fmaIterations(), settings.passes());
        double dram = dramReadGBs(threads, settings.bufferBytes(), settings.passes());
        return new MachineLimits(fma, dram, threads, S.length());
    }

    /** FMA loop iterations per call: calls stay short so that C2 compiles {@link #fmaChains} as a whole method. */
    private static final long FMA_CALL = 100_000;
    /** Floats summed per call of {@link #sum} (256 KiB): the same reason. */
    private static final int SUM_CALL = 1 << 16;

    /** Peak float32 GFLOP/s: {@code 2 · lanes · FMAs / s} over all threads. */
    public static double fmaPeakGflops(int threads, long iterations, int passes) {
        // Warm-up with many short calls: a method compiled by C2 as a whole keeps its vectors in registers, while
        // one long first call would run interpreted, then as an OSR compilation that boxes the vectors (10x slower).
        for (int i = 0; i < 3000; i++) fmaChains(1_000);
        double flopsPerThread = 2.0 * S.length() * CHAINS * iterations;
        double best = 0;
        for (int p = 0; p < passes; p++) {
            double seconds = parallelSeconds(threads, t -> {
                double keep = 0;
                for (long done = 0; done < iterations; done += FMA_CALL) keep += fmaChains(Math.min(FMA_CALL, iterations - done));
                return keep;
            });
            best = Math.max(best, flopsPerThread * threads / seconds / 1e9);
        }
        return best;
    }

    /** DRAM read GB/s: each thread sums its slice of a {@code bytes}-sized float buffer with vector loads. */
    public static double dramReadGBs(int threads, long bytes, int passes) {
        Stream stream = new Stream(threads, bytes);
        double best = 0;
        for (int p = 0; p < passes; p++) best = Math.max(best, stream.passGBs());
        return best;
    }

    /**
     * The DRAM read loop over a buffer allocated once, one pass per call: {@code attn bench} runs a pass before each
     * timed call of a memory-bound workload, so that its percent compares the call with the bandwidth of the same
     * moment (this VM's read bandwidth jumps between ~30 and ~55 GB/s within seconds, docs/PERFORMANCE.md).
     */
    public static final class Stream {
        private final int threads;
        private final float[] buffer;
        private final int slice;

        public Stream(int threads, long bytes) {
            AttentionException.require(threads >= 1, "threads", ">= 1", threads);
            long floats = bytes / 4;
            AttentionException.require(floats <= Integer.MAX_VALUE - 8, "bufferBytes", "< 8 GiB", bytes);
            this.threads = threads;
            this.buffer = new float[(int) floats]; // zeroing touches every page before the timed passes
            this.slice = (int) (floats / threads) / S.length() * S.length();
            AttentionException.require(slice > 0, "bufferBytes", ">= " + 4L * threads * S.length(), bytes);
            for (int i = 0; i < 3000; i++) sum(buffer, 0, Math.min(slice, 1024)); // compile the loop as a whole method
        }

        /** One timed pass on all threads: GB/s read. */
        public double passGBs() {
            double seconds = parallelSeconds(threads, t -> {
                double keep = 0;
                int end = t * slice + slice;
                for (int i = t * slice; i < end; i += SUM_CALL) keep += sum(buffer, i, Math.min(SUM_CALL, end - i));
                return keep;
            });
            return 4.0 * slice * threads / seconds / 1e9;
        }
    }

    /** 12 independent chains {@code a = a·x + y}; x just under 1 keeps them bounded and normal. Returns a sum (kept live). */
    static double fmaChains(long iterations) {
        FloatVector x = FloatVector.broadcast(S, 0.9999999f);
        FloatVector y = FloatVector.broadcast(S, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(S, 0.10f), a1 = FloatVector.broadcast(S, 0.11f);
        FloatVector a2 = FloatVector.broadcast(S, 0.12f), a3 = FloatVector.broadcast(S, 0.13f);
        FloatVector a4 = FloatVector.broadcast(S, 0.14f), a5 = FloatVector.broadcast(S, 0.15f);
        FloatVector a6 = FloatVector.broadcast(S, 0.16f), a7 = FloatVector.broadcast(S, 0.17f);
        FloatVector a8 = FloatVector.broadcast(S, 0.18f), a9 = FloatVector.broadcast(S, 0.19f);
        FloatVector a10 = FloatVector.broadcast(S, 0.20f), a11 = FloatVector.broadcast(S, 0.21f);
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(x, y);
            a1 = a1.fma(x, y);
            a2 = a2.fma(x, y);
            a3 = a3.fma(x, y);
            a4 = a4.fma(x, y);
            a5 = a5.fma(x, y);
            a6 = a6.fma(x, y);
            a7 = a7.fma(x, y);
            a8 = a8.fma(x, y);
            a9 = a9.fma(x, y);
            a10 = a10.fma(x, y);
            a11 = a11.fma(x, y);
        }
        FloatVector s = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11);
        return s.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /** Sum of {@code n} floats from {@code from} (n a multiple of the lane count), 4 accumulators. */
    static double sum(float[] a, int from, int n) {
        int step = S.length();
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        int i = from;
        int end = from + n;
        for (; i + 4 * step <= end; i += 4 * step) {
            s0 = s0.add(FloatVector.fromArray(S, a, i));
            s1 = s1.add(FloatVector.fromArray(S, a, i + step));
            s2 = s2.add(FloatVector.fromArray(S, a, i + 2 * step));
            s3 = s3.add(FloatVector.fromArray(S, a, i + 3 * step));
        }
        for (; i + step <= end; i += step) s0 = s0.add(FloatVector.fromArray(S, a, i));
        return s0.add(s1).add(s2).add(s3).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /**
     * Runs {@code work(t)} on {@code threads} threads started together; wall seconds from the first worker's start
     * to the last worker's end, as the workers clock them. (Clocking from the caller's side of the start barrier
     * was wrong: with as many workers as cores the caller is often scheduled only after the workers have done much
     * of their work, so a pass could "take" 0.4 ms for 4 ms of work, and best-of-N picked exactly those passes.)
     */
    static double parallelSeconds(int threads, IntToDoubleFunction work) {
        CyclicBarrier start = new CyclicBarrier(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        double[] sink = new double[threads];
        long[] began = new long[threads];
        long[] ended = new long[threads];
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = Thread.ofPlatform().daemon().name("attn4j-limits-" + t).start(() -> {
                try {
                    start.await();
                    began[id] = System.nanoTime();
                    sink[id] = work.applyAsDouble(id);
                    ended[id] = System.nanoTime();
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    start.reset(); // a worker whose wait failed must not leave the others waiting at the barrier
                }
            });
            workers.add(th);
        }
        try {
            for (Thread th : workers) th.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("limits measurement interrupted", e);
        }
        if (failure.get() != null) throw new IllegalStateException("limits measurement failed", failure.get());
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        double keep = 0;
        for (int t = 0; t < threads; t++) {
            first = Math.min(first, began[t]);
            last = Math.max(last, ended[t]);
            keep += sink[t];
        }
        if (Double.isNaN(keep)) throw new IllegalStateException("limits measurement produced NaN");
        return Math.max(1e-9, (last - first) / 1e9);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "fp32 FMA peak %.0f GFLOP/s, DRAM read %.1f GB/s (%d threads, %d float lanes)",
                fmaGflops, dramGBs, threads, lanes);
    }
}
