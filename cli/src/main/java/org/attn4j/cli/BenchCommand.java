package org.attn4j.cli;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.Backends;
import org.attn4j.bench.BenchReport;
import org.attn4j.bench.BenchSuite;
import org.attn4j.bench.MachineLimits;
import org.attn4j.bench.Peers;
import org.attn4j.bench.Workload;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code attn bench}: measures the machine limits (fp32 FMA peak, DRAM read bandwidth), then the benchmark workloads
 * on attn4j backends and on ONNX Runtime, all in this JVM, and prints per workload and backend the rate, its percent of
 * the limit and the ratio to the peer. Progress goes to stderr, so stdout stays clean for {@code --json}.
 *
 * <p>ONNX Runtime is not on the CLI's class path: its jar sits in {@link #ortPeerFolder()} and is loaded in a class
 * loader of its own only for {@code --peer ort}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmark attention workloads against the machine's limits and ONNX Runtime.",
                "Workloads: P1 prefill B1 32q/8kv d128 L2048 causal; P2 prefill B1 16/16 d64 L1024; "
                        + "D1 decode B1 32/8 d128 KV 16384; D2 decode B8 32/8 d128 KV 4096; "
                        + "M1 MLA absorbed decode 16 heads latent 512+64 KV 16384."})
public final class BenchCommand implements Callable<Integer> {
    /** System property naming the folder that holds the peers' folders ({@code ort/}); default: next to the CLI jar. */
    public static final String PEERS_PROPERTY = "attn4j.peers";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--workload", paramLabel = "P1|P2|D1|D2|M1|all",
            description = "Workload to run (repeatable; default: all).")
    List<String> workloads = new ArrayList<>();

    @Option(names = "--backend", paramLabel = "NAME", description = "attn4j backend (repeatable; default: cpu).")
    List<String> backends = new ArrayList<>();

    @Option(names = "--peer", paramLabel = "ort|none", defaultValue = "ort",
            description = "Peer to compare with: ort (ONNX Runtime, CPU) or none (default: ${DEFAULT-VALUE}).")
    String peer;

    @Option(names = "--json", description = "Print a JSON array (one object per workload and backend) instead of a table.")
    boolean json;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3", description = "Untimed calls first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "3.0",
            description = "Keep warming up until this many seconds have passed too, so C2 has compiled the kernels "
                    + "(default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--reps", paramLabel = "N", defaultValue = "9", description = "Timed calls; the median is reported (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "Threads for every implementation and the limits (default: all available processors).")
    int threads;

    /** Tiny shapes and a quick limits pass: for tests and smoke runs; the figures mean nothing. */
    @Option(names = "--tiny", hidden = true)
    boolean tiny;

    @Override
    public Integer call() {
        AttentionException.require(peer.equals("ort") || peer.equals("none"), "--peer", "ort or none", "'" + peer + "'");
        AttentionException.require(warmup >= 0, "--warmup", ">= 0", warmup);
        AttentionException.require(reps >= 1, "--reps", ">= 1", reps);
        AttentionException.require(warmupSeconds >= 0 && Double.isFinite(warmupSeconds), "--warmup-seconds", ">= 0", warmupSeconds);
        AttentionException.require(threads >= 0, "--threads", ">= 0 (0 = all processors)", threads);
        int nThreads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        List<Workload> selected = selectWorkloads();
        List<String> backendNames = backends.isEmpty() ? List.of("cpu") : List.copyOf(new LinkedHashSet<>(backends));
        requireKnownBackends(backendNames);
        Path ortJars = null;
        if (peer.equals("ort")) {
            ortJars = ortPeerFolder();
            AttentionException.require(Peers.holdsOrt(ortJars), "--peer",
                    "the ONNX Runtime jar in " + ortJars + " (`mvn -pl cli -am package` puts it there), or --peer none",
                    "none there");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();

        BenchSuite.Config config = new BenchSuite.Config(selected, backendNames, peer.equals("ort"), warmup,
                tiny ? 0 : warmupSeconds, reps,
                tiny ? MachineLimits.Settings.quick() : MachineLimits.Settings.standard(), nThreads, ortJars);
        BenchSuite.Report report = BenchSuite.run(config, line -> {
            err.println("[bench] " + Terminal.safe(line));
            err.flush();
        });
        if (json) {
            out.println(BenchReport.json(report.rows()));
        } else {
            out.println(String.format(Locale.ROOT, "machine: %d processors, %s; JVM %s", Runtime.getRuntime().availableProcessors(),
                    System.getProperty("os.arch"), Runtime.version()));
            out.println("limits:  " + report.limits());
            out.println("peer:    " + report.peerStatus());
            out.println("load:    " + report.loadBefore() + " before, " + report.loadAfter() + " after (1/5/15-min averages)");
            out.println(String.format(Locale.ROOT, "timing:  median of %d after >= %d warm-up calls and >= %.1f s, %d threads%s", reps,
                    warmup, tiny ? 0 : warmupSeconds, nThreads, tiny ? " (tiny shapes: figures are meaningless)" : ""));
            out.println();
            out.print(BenchReport.table(report.rows()));
        }
        out.flush();
        return 0;
    }

    /**
     * Where the ONNX Runtime jar is: {@code <-Dattn4j.peers>/ort}, else {@code peers/ort} next to the CLI's jar (or
     * next to its classes folder): {@code cli/target/peers/ort} in a build.
     */
    static Path ortPeerFolder() {
        String configured = System.getProperty(PEERS_PROPERTY);
        if (configured != null && !configured.isBlank()) return Path.of(configured).resolve(Peers.ORT);
        try {
            Path cliCode = Path.of(BenchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return cliCode.toAbsolutePath().getParent().resolve("peers").resolve(Peers.ORT);
        } catch (URISyntaxException | RuntimeException e) {
            throw AttentionException.invalid("--peer", "the CLI's own location, to find peers/ort next to it (or -D"
                    + PEERS_PROPERTY + "=FOLDER)", e.getMessage());
        }
    }

    /**
     * Fails before any measuring when a name is not an installed backend (a typo would otherwise cost the whole
     * limits pass and then show as a row of failures). Installed but unavailable backends still get their row,
     * with the reason.
     */
    private static void requireKnownBackends(List<String> names) {
        List<String> known = Backends.all().stream().map(AttentionBackend::name).toList();
        for (String name : names) {
            AttentionException.require(known.contains(name), "--backend", "one of " + known, "'" + Terminal.safe(name) + "'");
        }
    }

    /** The named workloads in P1 P2 D1 D2 M1 order, each once; {@code all} or nothing = every one. */
    private List<Workload> selectWorkloads() {
        Set<String> names = new LinkedHashSet<>();
        for (String w : workloads) {
            if (w.equalsIgnoreCase("all")) {
                Workload.standard().forEach(s -> names.add(s.name()));
            } else {
                names.add(Workload.byName(w).name()); // throws, naming the option, for an unknown workload
            }
        }
        if (names.isEmpty()) Workload.standard().forEach(s -> names.add(s.name()));
        List<Workload> out = new ArrayList<>();
        for (Workload s : Workload.standard()) {
            if (names.contains(s.name())) out.add(tiny ? Workload.tiny(s.name()) : s);
        }
        return out;
    }
}
