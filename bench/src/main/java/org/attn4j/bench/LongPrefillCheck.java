package org.attn4j.bench;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.Backends;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.Tensor;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Checks that a long causal prefill runs without an {@code L x L} buffer: run it in a JVM with {@code -Xmx1g}, where a
 * float score matrix for L = 32768 (4 GiB per head) cannot exist.
 *
 * <pre>
 * java -Xmx1g --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar org.attn4j.bench.LongPrefillCheck [L] [backend]
 * </pre>
 * Shape: B 1, 2 query heads sharing 1 KV head (GQA), d 64, causal, L = 32768 by default. A few output rows (first,
 * last and some in between) are compared with a float64 computation of the same rows from FORMAT.md's definition.
 * Prints one {@code OK ...} line and exits 0, or prints {@code FAILED ...} and exits 1.
 */
public final class LongPrefillCheck {
    static final int Q_HEADS = 2;
    static final int KV_HEADS = 1;
    static final int HEAD_DIM = 64;

    private LongPrefillCheck() {
    }

    public static void main(String[] args) {
        int len = args.length > 0 ? Integer.parseInt(args[0]) : 32768;
        String backendName = args.length > 1 ? args[1] : "cpu";
        try {
            System.out.println(run(len, backendName));
            System.exit(0);
        } catch (Throwable e) {
            System.out.println("FAILED L=" + len + " on " + backendName + ": " + e);
            System.exit(1);
        }
    }

    /** Runs the check; returns the {@code OK} line or throws. */
    static String run(int len, String backendName) {
        AttentionBackend backend = Backends.byName(backendName);
        SplittableRandom r = new SplittableRandom(7);
        float[] q = BenchData.uniform(r, (long) Q_HEADS * len * HEAD_DIM);
        float[] k = BenchData.uniform(r, (long) KV_HEADS * len * HEAD_DIM);
        float[] v = BenchData.uniform(r, (long) KV_HEADS * len * HEAD_DIM);
        AttentionSpec spec = AttentionSpec.builder(Q_HEADS, KV_HEADS, HEAD_DIM).causal().build();
        long t0 = System.nanoTime();
        Tensor out;
        try (AttentionPlan plan = backend.plan(AttentionProblem.of(spec, 1, len, len),
                AttnRun.options(Runtime.getRuntime().availableProcessors()))) {
            out = plan.run(AttentionInputs.of(FloatTensor.of(q, 1, Q_HEADS, len, HEAD_DIM),
                    FloatTensor.of(k, 1, KV_HEADS, len, HEAD_DIM), FloatTensor.of(v, 1, KV_HEADS, len, HEAD_DIM))).out();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double maxErr = 0;
        int[] rows = {0, 1, len / 3, len / 2, len - 2, len - 1};
        for (int h = 0; h < Q_HEADS; h++) {
            for (int i : rows) {
                double[] expect = row(q, k, v, len, h, i);
                for (int d = 0; d < HEAD_DIM; d++) {
                    maxErr = Math.max(maxErr, Math.abs(out.getDouble(0, h, i, d) - expect[d]));
                }
            }
        }
        // |v| <= 1, so outputs are convex combinations in [-1, 1]; float32 accumulation over 32768 keys stays ~1e-6.
        if (!(maxErr <= 1e-4)) throw new IllegalStateException("output differs from float64 by " + maxErr);
        double flops = 4.0 * Q_HEADS * (double) len * len * HEAD_DIM / 2;
        return String.format(Locale.ROOT,
                "OK L=%d causal B1 %dq/%dkv d%d on %s in %.2f s (%.1f GFLOP/s), max heap %d MiB, peak heap used %d MiB, "
                        + "max |err| vs float64 on %d rows %.2e",
                len, Q_HEADS, KV_HEADS, HEAD_DIM, backend.name(), seconds, flops / seconds / 1e9,
                Runtime.getRuntime().maxMemory() >> 20, peakHeapUsed() >> 20, rows.length * Q_HEADS, maxErr);
    }

    /** Output row {@code i} of query head {@code h} in float64: softmax over keys {@code 0..i} (causal, square). */
    static double[] row(float[] q, float[] k, float[] v, int len, int h, int i) {
        int kvh = h / (Q_HEADS / KV_HEADS);
        double scale = 1 / Math.sqrt(HEAD_DIM);
        double[] s = new double[i + 1];
        double max = Double.NEGATIVE_INFINITY;
        int qo = (h * len + i) * HEAD_DIM;
        for (int j = 0; j <= i; j++) {
            int ko = (kvh * len + j) * HEAD_DIM;
            double dot = 0;
            for (int d = 0; d < HEAD_DIM; d++) dot += (double) q[qo + d] * k[ko + d];
            s[j] = dot * scale;
            max = Math.max(max, s[j]);
        }
        double sum = 0;
        double[] o = new double[HEAD_DIM];
        for (int j = 0; j <= i; j++) {
            double p = Math.exp(s[j] - max);
            sum += p;
            int vo = (kvh * len + j) * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) o[d] += p * v[vo + d];
        }
        for (int d = 0; d < HEAD_DIM; d++) o[d] /= sum;
        return o;
    }

    /** Sum over heap pools of their peak usage since the JVM started. */
    static long peakHeapUsed() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) sum += p.getPeakUsage().getUsed();
        }
        return sum;
    }
}
