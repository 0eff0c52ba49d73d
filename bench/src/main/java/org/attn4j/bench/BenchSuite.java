package org.attn4j.bench;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.Backends;
import org.attn4j.api.DType;
import org.attn4j.api.Support;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * What {@code attn bench} runs: the machine limits, then each workload on each attn4j backend and on the peer, in one
 * JVM, with the ratios between them. Every figure is a median of {@code reps} timed calls after {@code warmup} calls.
 * Derived rows: D1's MHA twin (32/32 heads) and the MHA/GQA time ratio; D1 over paged caches; D1 and M1 over caches
 * stored as bfloat16, float16 and int8 (rows D1-bf16, D1-f16, D1-int8, M1-bf16, and paged D1-bf16/int8); for M1,
 * whole decode steps in the absorbed and the naive order and their time ratio.
 */
public final class BenchSuite {
    private BenchSuite() {
    }

    /**
     * @param workloads what to run, in order
     * @param backends  attn4j backend names ({@link Backends#byName})
     * @param peer      whether to run ONNX Runtime alongside
     * @param warmup    untimed calls before the timed ones (at least)
     * @param warmupSeconds untimed calls go on until this much time has passed too
     * @param reps      timed calls (the median is reported)
     * @param limits    how long to measure the machine limits
     * @param threads   threads for every implementation (plans, ORT intra-op, limits)
     * @param peerJars  the folder holding the ONNX Runtime jar, loaded apart from the class path ({@link Peers#ortFrom});
     *                  {@code null}: ONNX Runtime is on this class path
     */
    public record Config(List<Workload> workloads, List<String> backends, boolean peer, int warmup, double warmupSeconds,
                         int reps, MachineLimits.Settings limits, int threads, Path peerJars) {
        /** A configuration whose peer, if any, is on this class path. */
        public Config(List<Workload> workloads, List<String> backends, boolean peer, int warmup, double warmupSeconds,
                      int reps, MachineLimits.Settings limits, int threads) {
            this(workloads, backends, peer, warmup, warmupSeconds, reps, limits, threads, null);
        }

        public Config {
            AttentionException.require(warmupSeconds >= 0 && Double.isFinite(warmupSeconds), "warmupSeconds", ">= 0", warmupSeconds);
            AttentionException.require(workloads != null && !workloads.isEmpty(), "workloads", "at least one", workloads);
            AttentionException.require(backends != null && !backends.isEmpty(), "backends", "at least one", backends);
            AttentionException.require(warmup >= 0, "warmup", ">= 0", warmup);
            AttentionException.require(reps >= 1, "reps", ">= 1", reps);
            AttentionException.require(threads >= 1, "threads", ">= 1", threads);
            workloads = List.copyOf(workloads);
            backends = List.copyOf(backends);
        }
    }

    /**
     * @param limits     the measured machine limits
     * @param peerStatus the ONNX Runtime version, or why the peer did not run
     * @param rows       the limits first, then per workload: each backend, the peer, the derived rows
     */
    public record Report(MachineLimits limits, String peerStatus, List<BenchRow> rows, String loadBefore, String loadAfter) {
    }

    /**
     * The 1/5/15-minute load averages ({@code /proc/loadavg}), or "unknown": other processes on a 2-core machine skew
     * every figure, so the report states the load it ran under.
     */
    public static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (Exception | Error e) {
            return "unknown";
        }
    }

    /** Runs everything; progress lines go to {@code progress} (the CLI prints them on stderr). */
    public static Report run(Config config, Consumer<String> progress) {
        String loadBefore = loadAverage();
        progress.accept("load average " + loadBefore + "; measuring machine limits (" + config.threads() + " threads)...");
        MachineLimits limits = MachineLimits.measure(config.threads(), config.limits());
        progress.accept(limits.toString());
        List<BenchRow> rows = new ArrayList<>();
        rows.add(new BenchRow("fma_peak", "machine", limits.fmaGflops(), "GFLOP/s", 100.0, null, null, null, null,
                "fp32 FMA, " + limits.lanes() + " lanes x " + limits.threads() + " threads; load average " + loadBefore));
        rows.add(new BenchRow("dram_read", "machine", limits.dramGBs(), "GB/s", 100.0, null, null, null, null,
                "vector loads, " + limits.threads() + " threads"));

        Peers.Availability peer = !config.peer() ? new Peers.Availability(null, "--peer none")
                : config.peerJars() == null ? Peers.ortOnClassPath(config.threads())
                : Peers.ortFrom(config.peerJars(), config.threads());
        String peerStatus = peer.available() ? "onnxruntime " + peer.peer().version() : peer.reason();
        if (config.peer()) progress.accept("peer: " + peerStatus);
        try {
            // 256 MiB (8x the L3, read in 5-9 ms, about one decode call), or the limits' own buffer when smaller
            MachineLimits.Stream alongside = new MachineLimits.Stream(config.threads(),
                    Math.min(256L << 20, config.limits().bufferBytes()));
            Runner r = new Runner(config, limits, peer, progress, rows, alongside);
            for (Workload w : config.workloads()) {
                r.workload(w);
                System.gc(); // the big inputs of one workload should not crowd the next one's measurements
            }
        } finally {
            if (peer.available()) peer.peer().close();
        }
        return new Report(limits, peerStatus, List.copyOf(rows), loadBefore, loadAverage());
    }

    /** Page sizes of the paged-cache decode rows: vLLM's default, and one of the cpu backend's KV tile. */
    static final int[] PAGE_SIZES = {16, 64};

    /** The measurements of one run; rows are appended in output order. */
    private record Runner(Config config, MachineLimits limits, Peers.Availability peer, Consumer<String> progress,
                          List<BenchRow> rows, MachineLimits.Stream alongside) {

        /**
         * Times a workload; a memory-bound one with a DRAM read pass before each timed call, whose median becomes that
         * workload's limit (the start-of-run figure can be from the other of this VM's two bandwidth modes).
         */
        Measured time(Workload w, Timing.Action call) throws Exception {
            if (!w.memoryBound()) return Measured.of(Timing.measure(config.warmup(), config.warmupSeconds(), config.reps(), call));
            List<Double> dram = new ArrayList<>();
            Timing t = Timing.measure(config.warmup(), config.warmupSeconds(), config.reps(), call,
                    () -> dram.add(alongside.passGBs()));
            double[] gbs = dram.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = gbs.length;
            return new Measured(t, null, n % 2 == 1 ? gbs[n / 2] : (gbs[n / 2 - 1] + gbs[n / 2]) / 2);
        }

        /** The limit a measurement is judged against: the DRAM read alongside it, or the start-of-run figure. */
        double limit(Workload w, Measured m) {
            if (!w.memoryBound()) return limits.fmaGflops();
            return m != null && m.dram() != null ? m.dram() : limits.dramGBs();
        }

        void workload(Workload w) {
            progress.accept(w.name() + ": " + w.describe());
            BenchData data = BenchData.random(w, w.name().hashCode());
            Measured peerTime = measurePeer(data);
            for (String name : config.backends()) {
                Measured ours = measureBackend(name, data);
                rows.add(row(w, name, ours, peerTime, true));
                if (w.kind() == Workload.Kind.DECODE && w.name().equals("D1")) {
                    mhaOverGqa(w, name, ours);
                    for (int pageSize : PAGE_SIZES) paged(data, name, ours, pageSize);
                    for (DType t : List.of(DType.BFLOAT16, DType.FLOAT16, DType.INT8)) stored(data, name, t, 0);
                    for (int pageSize : PAGE_SIZES) stored(data, name, DType.BFLOAT16, pageSize);
                    stored(data, name, DType.INT8, PAGE_SIZES[1]);
                }
                if (w.kind() == Workload.Kind.MLA_DECODE) {
                    stored(data, name, DType.BFLOAT16, 0);
                    naiveOverAbsorbed(w, name);
                }
            }
            if (config.peer()) {
                rows.add(row(w, Peers.ORT, peerTime, null, false));
                if (w.kind() == Workload.Kind.DECODE && w.name().equals("D1") && peerTime.ok()) {
                    mhaOverGqa(w, Peers.ORT, peerTime);
                }
            }
        }

        /** A row for {@code m}; {@code vsPeer} adds the ratio to the peer and the goal. */
        BenchRow row(Workload w, String backend, Measured m, Measured peerTime, boolean vsPeer) {
            String target = vsPeer ? Targets.describe(w) : null;
            if (!m.ok()) return BenchRow.missing(w.name(), backend, w.unit(), target, m.note());
            double value = w.rate(m.timing().median());
            double limit = limit(w, m);
            Double percent = 100 * value / limit;
            Double ratio = null;
            String note = m.dram() == null ? null
                    : String.format(Locale.ROOT, "of the DRAM read alongside the calls: %.1f GB/s", m.dram());
            if (vsPeer) {
                String missing = null;
                if (peerTime != null && peerTime.ok()) ratio = peerTime.timing().median() / m.timing().median();
                else missing = "no peer ratio: " + (peerTime == null ? "peer not run" : peerTime.note());
                if (missing != null) note = note == null ? missing : note + "; " + missing;
            }
            return new BenchRow(w.name(), backend, value, w.unit(), percent, ratio, m.timing().median() * 1e3, target,
                    vsPeer ? Targets.met(w, percent, ratio) : null, note);
        }

        Measured measurePeer(BenchData data) {
            if (!config.peer()) return Measured.failed("--peer none");
            if (!peer.available()) return Measured.failed(peer.reason());
            Workload w = data.workload();
            try (Peers.Prepared p = peer.peer().prepare(data)) {
                Measured m = time(w, p::run);
                progress.accept(line(w, Peers.ORT, m));
                return m;
            } catch (Exception | LinkageError e) {
                progress.accept(w.name() + " " + Peers.ORT + ": failed: " + e);
                return Measured.failed("ONNX Runtime failed on " + w.name() + ": " + e);
            }
        }

        Measured measureBackend(String name, BenchData data) {
            Workload w = data.workload();
            try {
                AttentionBackend backend = Backends.byName(name);
                Support s = backend.support(AttentionProblem.of(w.spec(), w.batch(), w.qLen(), w.kvLen()));
                if (!s.isSupported()) return Measured.failed(name + " does not support " + w.name() + ": " + String.join("; ", s.reasons()));
                try (AttnRun run = AttnRun.prepare(backend, data, config.threads())) {
                    Measured m = time(w, run::run);
                    progress.accept(line(w, name, m));
                    return m;
                }
            } catch (Exception e) {
                progress.accept(w.name() + " " + name + ": failed: " + e);
                return Measured.failed(name + " failed on " + w.name() + ": " + e.getMessage());
            }
        }

        /**
         * D1 over a {@link org.attn4j.api.PagedKvCache} (the serving layout) instead of the backend's own cache: the row
         * {@code D1-paged<pageSize>}, with its time over D1's in the note.
         */
        void paged(BenchData data, String backend, Measured own, int pageSize) {
            Workload w = data.workload();
            Workload named = w.withKvHeads(w.name() + "-paged" + pageSize, w.kvHeads());
            progress.accept(named.name() + ": " + w.describe() + ", PagedKvCache with " + pageSize + "-token pages");
            Measured m;
            try (AttnRun run = AttnRun.preparePaged(Backends.byName(backend), data, config.threads(), pageSize)) {
                m = time(w, run::run);
                progress.accept(line(named, backend, m));
            } catch (Exception e) {
                progress.accept(named.name() + " " + backend + ": failed: " + e);
                m = Measured.failed(backend + " failed on " + named.name() + ": " + e.getMessage());
            }
            BenchRow row = row(named, backend, m, null, false);
            if (m.ok() && own.ok()) {
                String vs = String.format(Locale.ROOT, "time over D1 on the backend's own cache: %.2fx",
                        m.timing().median() / own.timing().median());
                row = new BenchRow(row.workload(), row.backend(), row.value(), row.unit(), row.percentOfLimit(), null,
                        row.medianMs(), null, null, row.note() == null ? vs : row.note() + "; " + vs);
            }
            rows.add(row);
        }

        /**
         * The same decode over a cache stored as {@code storage} (#18): the row {@code D1-bf16}, {@code D1-int8},
         * {@code M1-bf16}... ({@code -paged<n>} over a paged cache), timed in this run. Its GB/s count the bytes actually
         * read ({@link AttnRun#bytesRead}: 2 or 1 per element, int8 rows with their scale), against the DRAM read
         * measured before each call. Its baseline (the float32 workload on the backend's own cache; for a paged row, the
         * contiguous cache of the same type) is timed call for call in alternation with it, after its own warm-up, so that
         * both see the same machine load: the ratio in the note is the median of the per-pair time ratios. The targets
         * are from the issue: at most 0.55x (16-bit) or 0.35x (int8) the float32 time, at least 75 % of the DRAM read,
         * paged at most 1.2x contiguous.
         */
        void stored(BenchData data, String backend, DType storage, int pageSize) {
            Workload w = data.workload();
            String suffix = switch (storage) {
                case BFLOAT16 -> "bf16";
                case FLOAT16 -> "f16";
                case INT8 -> "int8";
                default -> storage.name().toLowerCase(Locale.ROOT);
            };
            String baseName = pageSize > 0 ? w.name() + "-" + suffix : w.name();
            String name = w.name() + "-" + suffix + (pageSize > 0 ? "-paged" + pageSize : "");
            progress.accept(name + ": " + w.describe() + ", " + storage + " cache" + (pageSize > 0 ? " in " + pageSize + "-token pages" : "")
                    + ", calls alternating with " + baseName);
            AttentionBackend b;
            double[] t;
            double[] base;
            double[] dram;
            int reps = config.reps();
            try {
                b = Backends.byName(backend);
                try (AttnRun run = AttnRun.prepareStored(b, data, config.threads(), storage, pageSize);
                     AttnRun ref = pageSize > 0 ? AttnRun.prepareStored(b, data, config.threads(), storage, 0)
                             : AttnRun.prepare(b, data, config.threads())) {
                    Timing.measure(config.warmup(), config.warmupSeconds(), 1, ref::run);
                    Timing.measure(config.warmup(), config.warmupSeconds(), 1, run::run);
                    t = new double[reps];
                    base = new double[reps];
                    dram = new double[reps];
                    for (int i = 0; i < reps; i++) {
                        alongside.passGBs();
                        long t0 = System.nanoTime();
                        ref.run();
                        base[i] = (System.nanoTime() - t0) / 1e9;
                        dram[i] = alongside.passGBs();
                        t0 = System.nanoTime();
                        run.run();
                        t[i] = (System.nanoTime() - t0) / 1e9;
                    }
                }
            } catch (Exception e) {
                progress.accept(name + " " + backend + ": failed: " + e);
                rows.add(BenchRow.missing(name, backend, "GB/s", null, backend + " failed on " + name + ": " + e.getMessage()));
                return;
            }
            double[] pair = new double[reps];
            for (int i = 0; i < reps; i++) pair[i] = t[i] / base[i];
            double seconds = median(t);
            double ratio = median(pair);
            double bytes = AttnRun.bytesRead(w, storage);
            double gbs = bytes / seconds / 1e9;
            double dramGBs = median(dram);
            double percent = 100 * gbs / dramGBs;
            // the fastest call of each series too: on a loaded machine it is the one least disturbed by other processes
            double tMin = Arrays.stream(t).min().orElseThrow();
            double baseMin = Arrays.stream(base).min().orElseThrow();
            String note = String.format(Locale.ROOT,
                    "%.1f MB read per step; of the DRAM read alongside the calls: %.1f GB/s; time over %s (alternating calls,"
                            + " median of per-pair ratios; %s median %.2f ms): %.2fx; fastest calls %.2f / %.2f ms = %.2fx",
                    bytes / 1e6, dramGBs, baseName, baseName, median(base) * 1e3, ratio, tMin * 1e3, baseMin * 1e3, tMin / baseMin);
            String target;
            boolean met;
            if (pageSize > 0) {
                target = "<= 1.2x the contiguous time";
                met = ratio <= 1.2;
            } else {
                double goal = storage == DType.INT8 ? 0.35 : 0.55;
                target = String.format(Locale.ROOT, "<= %.2fx %s time, >= 75%% of DRAM read", goal, w.name());
                met = ratio <= goal && percent >= 75;
            }
            progress.accept(String.format(Locale.ROOT, "%s %s: %s -> %.1f GB/s (%.1f%% of the DRAM read alongside, %.1f GB/s); %.2fx the %s time"
                            + " (%s alongside: %s; fastest calls %.2fx)",
                    name, backend, Timing.of(t), gbs, percent, dramGBs, ratio, baseName, baseName, Timing.of(base), tMin / baseMin));
            rows.add(new BenchRow(name, backend, gbs, "GB/s", percent, null, seconds * 1e3, target, met, note));
        }

        private static double median(double[] a) {
            double[] s = a.clone();
            Arrays.sort(s);
            int n = s.length;
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        }

        /** D1 with 32 KV heads (MHA, 4x the bytes) next to D1 (GQA 32/8): the time ratio should approach 4. */
        void mhaOverGqa(Workload gqa, String backend, Measured gqaTime) {
            Workload mha = gqa.withKvHeads(gqa.name() + "-MHA", gqa.qHeads());
            progress.accept(mha.name() + ": " + mha.describe());
            BenchData data = BenchData.random(mha, mha.name().hashCode());
            Measured m = backend.equals(Peers.ORT) ? measurePeer(data) : measureBackend(backend, data);
            rows.add(row(mha, backend, m, null, false));
            String target = String.format(Locale.ROOT, ">= %.1fx", Targets.MHA_OVER_GQA);
            String name = gqa.name() + " MHA/GQA";
            if (!m.ok() || !gqaTime.ok()) {
                rows.add(BenchRow.missing(name, backend, "x", target, !m.ok() ? m.note() : gqaTime.note()));
                return;
            }
            double ratio = m.timing().median() / gqaTime.timing().median();
            rows.add(new BenchRow(name, backend, ratio, "x", null, null, null, target, ratio >= Targets.MHA_OVER_GQA,
                    "decode time of MHA " + gqa.qHeads() + "/" + gqa.qHeads() + " over GQA " + gqa.qHeads() + "/" + gqa.kvHeads()));
        }

        /**
         * Whole MLA decode steps on the same backend: absorbed (q absorption + attention over the latent + W_UV) and
         * naive (decompress the cache + MHA attention). The naive step is slow, so it gets at most 1 warm-up and 3 reps.
         */
        void naiveOverAbsorbed(Workload w, String backend) {
            String target = String.format(Locale.ROOT, ">= %.0fx", Targets.MLA_NAIVE_OVER_ABSORBED);
            String name = w.name() + " naive/absorbed";
            MlaDecode.Data data = MlaDecode.Data.random(w, w.name().hashCode() + 1);
            Measured absorbed;
            Measured naive;
            double decompress;
            try {
                AttentionBackend b = Backends.byName(backend);
                try (MlaDecode a = MlaDecode.absorbed(b, data, config.threads())) {
                    absorbed = Measured.of(Timing.measure(config.warmup(), config.warmupSeconds(), config.reps(), a::step));
                }
                progress.accept(w.name() + "-step " + backend + ": absorbed whole step " + absorbed.timing());
                try (MlaDecode n = MlaDecode.naive(b, data, config.threads())) {
                    naive = Measured.of(Timing.measure(Math.min(1, config.warmup()), Math.min(3, config.reps()), n::step));
                    decompress = n.lastDecompressSeconds();
                }
                progress.accept(w.name() + "-naive " + backend + ": naive whole step " + naive.timing());
            } catch (Exception e) {
                progress.accept(name + " " + backend + ": failed: " + e);
                rows.add(BenchRow.missing(name, backend, "x", target, "MLA step failed: " + e.getMessage()));
                return;
            }
            double a = absorbed.timing().median();
            double n = naive.timing().median();
            rows.add(new BenchRow(w.name() + "-step", backend, a * 1e3, "ms", null, null, a * 1e3, null, null,
                    "absorbed whole decode step: q W_UK, attention over the latent, W_UV"));
            rows.add(new BenchRow(w.name() + "-naive", backend, n * 1e3, "ms", null, null, n * 1e3, null, null,
                    String.format(Locale.ROOT, "naive whole decode step: decompress the cache to per-head K/V (last step: %.1f ms)"
                            + ", then MHA attention", decompress * 1e3)));
            rows.add(new BenchRow(name, backend, n / a, "x", null, null, null, target, n / a >= Targets.MLA_NAIVE_OVER_ABSORBED,
                    "naive step time over absorbed step time"));
        }

        private String line(Workload w, String backend, Measured m) {
            double value = w.rate(m.timing().median());
            double limit = limit(w, m);
            String of = m.dram() == null ? "of limit" : String.format(Locale.ROOT, "of the DRAM read alongside, %.1f GB/s", limit);
            return String.format(Locale.ROOT, "%s %s: %s -> %.1f %s (%.1f%% %s)", w.name(), backend, m.timing(), value, w.unit(),
                    100 * value / limit, of);
        }
    }

    /** A timing (with the median DRAM read alongside it, for memory-bound workloads), or why there is none. */
    private record Measured(Timing timing, String note, Double dram) {
        static Measured of(Timing t) {
            return new Measured(t, null, null);
        }

        static Measured failed(String note) {
            return new Measured(null, note, null);
        }

        boolean ok() {
            return timing != null;
        }
    }
}
