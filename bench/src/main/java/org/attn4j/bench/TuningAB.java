package org.attn4j.bench;

import org.attn4j.api.AttentionException;
import org.attn4j.kernels.cpu.CpuBackend;
import org.attn4j.kernels.cpu.CpuKernels;
import org.attn4j.kernels.cpu.CpuTuning;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * An A/B of {@link CpuTuning}s on one workload, in one JVM, calls interleaved: each round times one call of every
 * tuning in turn, so that the machine's drift (this VM varies by +-30 % between runs) hits all of them alike. Two
 * builds compared with {@code attn bench} in alternating runs need many runs to resolve a few percent; this
 * resolves them in one. Prints the median, quartile and minimum per tuning; timings are never checked.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:+UseTransparentHugePages -cp bench/target/benchmarks.jar \
 *     org.attn4j.bench.TuningAB P1 2 128x64,256x64 [rounds] [warmupSeconds]
 * </pre>
 * A tuning is {@code queryRows x kvTile}; the other fields are {@link CpuTuning#DEFAULT}'s.
 */
public final class TuningAB {
    private TuningAB() {
    }

    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: TuningAB WORKLOAD THREADS QUERYROWSxKVTILE[,...] [rounds] [warmupSeconds]");
            System.exit(2);
        }
        Workload w = Workload.byName(args[0]);
        int threads = Integer.parseInt(args[1]);
        List<CpuTuning> tunings = parse(args[2]);
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 40;
        double warmup = args.length > 4 ? Double.parseDouble(args[4]) : 4.0;
        for (String line : compare(w, threads, tunings, rounds, warmup)) System.out.println(line);
    }

    /** {@code "256x64,128x64"}: queryRows x kvTile pairs, the rest from {@link CpuTuning#DEFAULT}. */
    static List<CpuTuning> parse(String spec) {
        List<CpuTuning> out = new ArrayList<>();
        CpuTuning d = CpuTuning.DEFAULT;
        for (String item : spec.split(",")) {
            String[] p = item.trim().split("x");
            AttentionException.require(p.length == 2 && p[0].matches("[0-9]{1,9}") && p[1].matches("[0-9]{1,9}"), "tuning",
                    "queryRows x kvTile, e.g. 256x64", item);
            out.add(new CpuTuning(Integer.parseInt(p[0]), Integer.parseInt(p[1]), d.transposeRows(), d.targetItems(),
                    d.minSplitKeys(), d.maxSplits()));
        }
        return out;
    }

    /** The report lines: one per tuning, in the order given. */
    static List<String> compare(Workload w, int threads, List<CpuTuning> tunings, int rounds, double warmupSeconds) {
        BenchData data = BenchData.random(w, 1);
        List<AttnRun> runs = new ArrayList<>();
        try {
            for (CpuTuning t : tunings) runs.add(AttnRun.prepare(new CpuBackend(CpuKernels.get(), t), data, threads));
            long end = System.nanoTime() + (long) (warmupSeconds * 1e9);
            do {
                for (AttnRun r : runs) r.run();
            } while (System.nanoTime() < end);
            double[][] ms = new double[runs.size()][rounds];
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < runs.size(); i++) {
                    long t0 = System.nanoTime();
                    runs.get(i).run();
                    ms[i][round] = (System.nanoTime() - t0) / 1e6;
                }
            }
            List<String> lines = new ArrayList<>();
            lines.add(String.format(Locale.ROOT, "%s, %d threads, %d interleaved rounds", w.name(), threads, rounds));
            for (int i = 0; i < runs.size(); i++) {
                double[] t = ms[i].clone();
                Arrays.sort(t);
                CpuTuning tu = tunings.get(i);
                lines.add(String.format(Locale.ROOT, "queryRows %4d kvTile %4d: median %9.3f ms  p25 %9.3f  min %9.3f",
                        tu.queryRows(), tu.kvTile(), t[t.length / 2], t[t.length / 4], t[0]));
            }
            return lines;
        } finally {
            for (AttnRun r : runs) r.close();
        }
    }
}
