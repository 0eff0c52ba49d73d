package org.attn4j.cli.matrix;

import org.attn4j.api.AttentionBackend;
import org.attn4j.conformance.golden.CaseResult;
import org.attn4j.conformance.golden.GoldenRunner;
import org.attn4j.conformance.tck.AttentionTck;
import org.attn4j.conformance.tck.CheckResult;
import org.attn4j.conformance.tck.TckCheck;
import org.attn4j.conformance.tck.TckConfig;
import org.attn4j.conformance.tck.TckReport;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The conformance matrix: every TCK check and every golden case group, run on every backend given. Built by
 * {@link #run}; rendered by {@link MatrixMarkdown} and {@link MatrixHtml}.
 *
 * @param columns   the backends, in the order given (an unavailable one keeps its column, every cell skipped)
 * @param rows      one per TCK check, then one per golden group
 * @param config    the TCK settings used (seed, iterations)
 * @param goldenDir where the golden cases came from
 * @param millis    how long it took
 */
public record ConformanceMatrix(List<Column> columns, List<Row> rows, TckConfig config, Path goldenDir, long millis) {

    /** A backend column: its name, and why it could not run, if so (null = it ran). */
    public record Column(String backend, String detail, String unavailable) {
    }

    /** One row: a check or a golden group, and its cell per backend (same order as the columns). */
    public record Row(String name, String description, boolean golden, List<Cell> cells) {
    }

    /** What one backend gave on one row. */
    public enum Outcome {
        PASS, SKIP, FAIL
    }

    /**
     * @param summary short text for the table
     * @param details every failure in full (shrunk case, problem, replay line; or each failing golden case), or null
     */
    public record Cell(Outcome outcome, String summary, String details) {
    }

    /** A backend to run, or the reason one could not even be loaded (e.g. ONNX Runtime's jar missing). */
    public record Candidate(String name, AttentionBackend backend, String missing) {
        public static Candidate of(AttentionBackend b) {
            return new Candidate(b.name(), b, null);
        }

        public static Candidate missing(String name, String why) {
            return new Candidate(name, null, why);
        }
    }

    /** The number of failing cells. */
    public long failures() {
        return rows.stream().flatMap(r -> r.cells().stream()).filter(c -> c.outcome() == Outcome.FAIL).count();
    }

    /**
     * Runs the selected TCK checks and the golden cases under {@code goldenDir} on every candidate.
     *
     * @param progress receives one line per backend and step
     */
    public static ConformanceMatrix run(List<Candidate> candidates, TckConfig config, Path goldenDir, Consumer<String> progress) {
        long start = System.nanoTime();
        List<Column> columns = new ArrayList<>();
        List<TckCheck> checks = AttentionTck.INSTANCE.checks(config);
        List<Path> cases = GoldenRunner.discover(List.of(goldenDir));
        Map<String, List<Path>> groups = new LinkedHashMap<>();
        for (Path c : cases) groups.computeIfAbsent(group(goldenDir, c), g -> new ArrayList<>()).add(c);

        // cells[row][column]
        List<List<Cell>> cells = new ArrayList<>();
        for (int i = 0; i < checks.size() + groups.size(); i++) cells.add(new ArrayList<>());
        for (Candidate cand : candidates) {
            String unavailable = cand.missing() != null ? cand.missing()
                    : cand.backend().unavailableReason().orElse(null);
            columns.add(new Column(cand.name(), cand.backend() == null ? "" : cand.backend().precision().name().toLowerCase(java.util.Locale.ROOT), unavailable));
            if (unavailable != null) {
                progress.accept(cand.name() + ": unavailable (" + unavailable + ")");
                Cell skip = new Cell(Outcome.SKIP, "skip: backend unavailable", null);
                for (List<Cell> row : cells) row.add(skip);
                continue;
            }
            AttentionBackend b = cand.backend();
            progress.accept(cand.name() + ": TCK, " + checks.size() + " checks, " + config.getIterations() + " cases per kernel check");
            TckReport report = AttentionTck.run(b, config, false);
            Map<String, CheckResult> byCheck = new LinkedHashMap<>();
            for (CheckResult r : report.getResults()) byCheck.put(r.getCheck(), r);
            for (int i = 0; i < checks.size(); i++) cells.get(i).add(tckCell(b.name(), byCheck.get(checks.get(i).getName())));
            progress.accept(cand.name() + ": golden, " + cases.size() + " cases");
            int g = checks.size();
            for (List<Path> group : groups.values()) {
                List<CaseResult> results = new ArrayList<>();
                for (Path c : group) results.add(GoldenRunner.run(c, b));
                cells.get(g++).add(goldenCell(results));
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < checks.size(); i++) {
            rows.add(new Row(checks.get(i).getName(), checks.get(i).getDescription(), false, cells.get(i)));
        }
        int g = checks.size();
        for (Map.Entry<String, List<Path>> e : groups.entrySet()) {
            rows.add(new Row("golden/" + e.getKey(), e.getValue().size() + " golden cases in " + e.getKey() + "/", true, cells.get(g++)));
        }
        return new ConformanceMatrix(columns, rows, config, goldenDir, (System.nanoTime() - start) / 1_000_000);
    }

    /** The group of a case: its folder relative to the golden root, without the case's own folder (e.g. {@code onnx}). */
    private static String group(Path root, Path caseDir) {
        Path parent = caseDir.getParent();
        Path rel = parent == null ? Path.of(".") : root.toAbsolutePath().normalize().relativize(parent.toAbsolutePath().normalize());
        String s = rel.toString().replace('\\', '/');
        return s.isEmpty() ? "." : s;
    }

    static Cell tckCell(String backend, CheckResult r) {
        if (r == null) return new Cell(Outcome.SKIP, "not run", null);
        if (r instanceof CheckResult.Passed p) {
            String declined = p.getDeclined().isEmpty() ? "" : ", " + p.getDeclined().values().stream().mapToInt(Integer::intValue).sum() + " declined";
            return new Cell(Outcome.PASS, "pass (" + p.getCases() + declined + ")", null);
        }
        if (r instanceof CheckResult.Skipped s) {
            return new Cell(Outcome.SKIP, "skip: " + String.join("; ", s.getReasons().keySet()), null);
        }
        CheckResult.Failed f = (CheckResult.Failed) r;
        return new Cell(Outcome.FAIL, "FAIL: " + f.getShrunk() + ": " + firstLine(f.getMessage()), f.report(backend));
    }

    static Cell goldenCell(List<CaseResult> results) {
        int passed = 0, skipped = 0;
        List<CaseResult> failed = new ArrayList<>();
        for (CaseResult r : results) {
            switch (r.getStatus()) {
                case PASSED -> passed++;
                case SKIPPED -> skipped++;
                case FAILED, ERROR -> failed.add(r);
            }
        }
        String counts = passed + " pass" + (skipped > 0 ? ", " + skipped + " skip" : "");
        if (failed.isEmpty()) {
            if (passed == 0) return new Cell(Outcome.SKIP, "skip: every case declined (" + skipped + ")", null);
            return new Cell(Outcome.PASS, "pass (" + counts + ")", null);
        }
        StringBuilder d = new StringBuilder();
        for (CaseResult r : failed) d.append(r.getName()).append(": ").append(r.getStatus()).append(": ").append(r.getMessage()).append('\n');
        CaseResult first = failed.getFirst();
        return new Cell(Outcome.FAIL, "FAIL " + failed.size() + " (" + counts + "); first: " + first.getName() + ": "
                + firstLine(first.getMessage()), d.toString());
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
