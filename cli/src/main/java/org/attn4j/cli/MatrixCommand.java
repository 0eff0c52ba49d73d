package org.attn4j.cli;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.Backends;
import org.attn4j.bench.Peers;
import org.attn4j.cli.matrix.ConformanceMatrix;
import org.attn4j.cli.matrix.ConformanceMatrix.Candidate;
import org.attn4j.cli.matrix.MatrixHtml;
import org.attn4j.cli.matrix.MatrixMarkdown;
import org.attn4j.conformance.golden.GoldenDirs;
import org.attn4j.conformance.tck.TckConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;

/**
 * {@code attn matrix}: the conformance matrix. Runs the TCK and the golden cases on every backend (those on the class
 * path, and ONNX Runtime's backend from {@code peers/ort}) and writes one table: a row per check and per golden group,
 * a column per backend. The matrix is a report: exit 0 once it is written, even with failing cells (a third-party
 * backend's disagreements are findings, not errors of this command); {@code --strict} exits 1 when a cell fails.
 */
@Command(name = "matrix", mixinStandardHelpOptions = true,
        description = {"Conformance matrix: the TCK checks and the golden cases on every backend (reference, cpu, opencl,",
                "onnxruntime), one row per check and golden group, one column per backend; each cell pass, skip with the",
                "backend's reasons, or FAIL with the shrunk counterexample. Markdown to stdout (and --md), HTML with --html.",
                "Exit status: 0 when the matrix was produced (failing cells included: it is a report), 1 with --strict and a",
                "failing cell, 2 bad options or unwritable output."})
public final class MatrixCommand implements Callable<Integer> {
    /** The ONNX Runtime backend module's jar, copied by cli's pom into {@code peers/ort} beside ONNX Runtime. */
    static final String ORT_BACKEND = "onnxruntime";

    @Option(names = {"-b", "--backend"}, split = ",", paramLabel = "NAME",
            description = "Backends to run (default: every backend found, plus onnxruntime).")
    List<String> backends;

    @Option(names = "--iterations", defaultValue = "100",
            description = "Cases per kernel check (default: ${DEFAULT-VALUE}, as the backends' own TCK tests; 20 takes a fifth of the time).")
    int iterations;

    @Option(names = "--seed", description = "TCK base seed (default: the TCK's fixed seed, " + TckConfig.DEFAULT_SEED + ").")
    Long seed;

    @Option(names = "--checks", split = ",", paramLabel = "SUBSTRING", description = "Only checks whose name contains one of these.")
    List<String> checks;

    @Option(names = "--golden", paramLabel = "DIR", description = "Golden cases folder (default: this checkout's golden/).")
    Path golden;

    @Option(names = "--md", paramLabel = "FILE", description = "Also write the Markdown table to FILE.")
    Path md;

    @Option(names = "--html", paramLabel = "FILE", description = "Write the self-contained HTML page to FILE.")
    Path html;

    @Option(names = "--strict", description = "Exit 1 when any cell fails.")
    boolean strict;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (iterations < 1) return bad(err, "--iterations: expected >= 1, got " + iterations);
        Path goldenDir = golden != null ? golden : relative(GoldenDirs.project());
        if (!Files.isDirectory(goldenDir)) return bad(err, "--golden: " + goldenDir + " is not a folder");
        TckConfig config = TckConfig.builder().seed(seed != null ? seed : TckConfig.DEFAULT_SEED).iterations(iterations)
                .checks(checks == null ? List.of() : checks).reportFile(null).build();
        List<Candidate> candidates = candidates();
        if (backends != null) {
            List<Candidate> chosen = new ArrayList<>();
            for (String name : backends) {
                Candidate c = candidates.stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
                if (c == null) {
                    return bad(err, "--backend: no backend '" + name + "'; found " + candidates.stream().map(Candidate::name).toList());
                }
                chosen.add(c);
            }
            candidates = chosen;
        }
        ConformanceMatrix m = ConformanceMatrix.run(candidates, config, goldenDir, line -> {
            err.println("attn matrix: " + Terminal.safe(line));
            err.flush();
        });
        String markdown = MatrixMarkdown.render(m);
        out.print(markdown);
        out.flush();
        if (md != null) write(md, markdown);
        if (html != null) write(html, MatrixHtml.render(m));
        long failing = m.failures();
        err.println("attn matrix: " + failing + " failing cell(s)" + (failing > 0 && !strict
                ? " (exit 0: the matrix is a report; --strict makes a failing cell exit 1)" : ""));
        err.flush();
        return strict && failing > 0 ? Attn.EXIT_FAILED : Attn.EXIT_OK;
    }

    /** Column order: the shipped backends first, then any other found on the class path, then ONNX Runtime's. */
    static final List<String> ORDER = List.of("reference", "cpu", "opencl");

    /** The backends on the class path, then ONNX Runtime's (or why it is missing), in {@link #ORDER}. */
    static List<Candidate> candidates() {
        List<Candidate> list = new ArrayList<>();
        for (AttentionBackend b : Backends.all()) list.add(Candidate.of(b));
        if (list.stream().noneMatch(c -> c.name().equals(ORT_BACKEND))) list.add(onnxRuntime(BenchCommand.ortPeerFolder()));
        list.sort(java.util.Comparator.comparingInt(c -> {
            int i = ORDER.indexOf(c.name());
            return i >= 0 ? i : c.name().equals(ORT_BACKEND) ? ORDER.size() + 1 : ORDER.size();
        }));
        return list;
    }

    /**
     * The {@code onnxruntime} backend from {@code folder} ({@code cli/target/peers/ort}: its module's jar and ONNX
     * Runtime's), loaded by ServiceLoader in a child class loader, so that ONNX Runtime stays off the CLI's class path.
     */
    static Candidate onnxRuntime(Path folder) {
        List<Path> jars = Peers.jars(folder);
        if (jars.stream().noneMatch(j -> j.getFileName().toString().startsWith("attn4j-backend-onnxruntime"))) {
            return Candidate.missing(ORT_BACKEND, "no attn4j-backend-onnxruntime jar in " + folder + " (built by cli's pom)");
        }
        List<URL> urls = new ArrayList<>();
        try {
            for (Path j : jars) urls.add(j.toUri().toURL());
        } catch (MalformedURLException e) {
            return Candidate.missing(ORT_BACKEND, "cannot load " + folder + ": " + e);
        }
        ClassLoader loader = new URLClassLoader("attn4j-onnxruntime", urls.toArray(URL[]::new), MatrixCommand.class.getClassLoader());
        try {
            // The parent's backends are listed by this loader too: keep only those its own jars define.
            return ServiceLoader.load(AttentionBackend.class, loader).stream()
                    .filter(p -> p.type().getClassLoader() == loader)
                    .map(p -> Candidate.of(p.get()))
                    .findFirst()
                    .orElse(Candidate.missing(ORT_BACKEND, "no AttentionBackend service in " + folder));
        } catch (java.util.ServiceConfigurationError | LinkageError e) {
            return Candidate.missing(ORT_BACKEND, "cannot load the backend from " + folder + ": " + e);
        }
    }

    /** {@code dir} relative to the working directory when it is inside it (the report then names no home folder). */
    private static Path relative(Path dir) {
        Path here = Path.of("").toAbsolutePath();
        Path abs = dir.toAbsolutePath().normalize();
        return abs.startsWith(here) && !abs.equals(here) ? here.relativize(abs) : abs;
    }

    private static void write(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    private static int bad(PrintWriter err, String message) {
        err.println(Terminal.line("attn matrix: " + message));
        err.flush();
        return Attn.EXIT_BAD_INPUT;
    }
}
