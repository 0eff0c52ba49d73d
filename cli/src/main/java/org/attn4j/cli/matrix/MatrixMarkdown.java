package org.attn4j.cli.matrix;

import org.attn4j.cli.matrix.ConformanceMatrix.Cell;
import org.attn4j.cli.matrix.ConformanceMatrix.Column;
import org.attn4j.cli.matrix.ConformanceMatrix.Outcome;
import org.attn4j.cli.matrix.ConformanceMatrix.Row;

import java.util.Locale;

/** The matrix as Markdown: the table (cells cut to a readable length), then every failure in full. */
public final class MatrixMarkdown {
    /** Table cells longer than this are cut; the full text is in the failures section. */
    static final int CELL_LIMIT = 160;

    private MatrixMarkdown() {
    }

    public static String render(ConformanceMatrix m) {
        StringBuilder s = new StringBuilder();
        s.append("# attn4j conformance matrix\n\n");
        s.append(String.format(Locale.ROOT, "TCK seed %d, %d cases per kernel check (%d per layer check), golden cases from `%s`; %.1f s.%n",
                m.config().getSeed(), m.config().getIterations(), m.config().getLayerIterations(), m.goldenDir(), m.millis() / 1000.0));
        s.append("A cell is `pass (cases run, declined)`, `skip: the backend's reasons` (it declined every case), or "
                + "`FAIL: shrunk case: problem` (full reports below). Replay a TCK failure with `-Dattn4j.tck.seed=SEED "
                + "-Dattn4j.tck.checks=CHECK` in the backend's own TCK test, or `attn matrix --seed SEED --checks CHECK`.\n\n");
        s.append("| check |");
        for (Column c : m.columns()) s.append(' ').append(esc(c.backend())).append(" |");
        s.append("\n|---|");
        for (int i = 0; i < m.columns().size(); i++) s.append("---|");
        s.append('\n');
        for (Row r : m.rows()) {
            s.append("| ").append(esc(r.name())).append(" |");
            for (Cell c : r.cells()) s.append(' ').append(esc(cut(c.summary()))).append(" |");
            s.append('\n');
        }
        boolean anyUnavailable = m.columns().stream().anyMatch(c -> c.unavailable() != null);
        if (anyUnavailable) {
            s.append("\n## Unavailable backends\n\n");
            for (Column c : m.columns()) {
                if (c.unavailable() != null) s.append("- ").append(c.backend()).append(": ").append(esc(c.unavailable())).append('\n');
            }
        }
        s.append(String.format(Locale.ROOT, "%n%d failing cell(s).%n", m.failures()));
        if (m.failures() > 0) {
            s.append("\n## Failures\n");
            for (Row r : m.rows()) {
                for (int i = 0; i < r.cells().size(); i++) {
                    Cell c = r.cells().get(i);
                    if (c.outcome() != Outcome.FAIL) continue;
                    s.append("\n### ").append(r.name()).append(" on ").append(m.columns().get(i).backend()).append("\n\n```\n")
                            .append(c.details() == null ? c.summary() : c.details().strip()).append("\n```\n");
                }
            }
        }
        return s.toString();
    }

    static String cut(String s) {
        return s.length() <= CELL_LIMIT ? s : s.substring(0, CELL_LIMIT - 3) + "...";
    }

    private static String esc(String s) {
        return s.replace("|", "\\|").replace("\n", " ").replace("\r", " ");
    }
}
