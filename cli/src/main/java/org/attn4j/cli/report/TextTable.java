package org.attn4j.cli.report;

import java.util.ArrayList;
import java.util.List;

/** A plain-text table: a header row, then rows; numeric-looking columns are right-aligned. */
public final class TextTable {
    private final List<String> header;
    private final boolean[] rightAligned;
    private final List<List<String>> rows = new ArrayList<>();

    /** {@code columns}: names; a name ending in {@code >} is right-aligned (the {@code >} is not printed). */
    public TextTable(String... columns) {
        header = new ArrayList<>();
        rightAligned = new boolean[columns.length];
        for (int i = 0; i < columns.length; i++) {
            rightAligned[i] = columns[i].endsWith(">");
            header.add(rightAligned[i] ? columns[i].substring(0, columns[i].length() - 1) : columns[i]);
        }
    }

    public TextTable row(String... cells) {
        if (cells.length != header.size()) throw new IllegalArgumentException("row of " + cells.length + " cells, table of " + header.size());
        rows.add(List.of(cells));
        return this;
    }

    public List<String> header() {
        return header;
    }

    public List<List<String>> rows() {
        return rows;
    }

    public boolean rightAligned(int column) {
        return rightAligned[column];
    }

    /** The table, two spaces between columns, a dashed line under the header. */
    public String render() {
        int n = header.size();
        int[] width = new int[n];
        for (int c = 0; c < n; c++) width[c] = header.get(c).length();
        for (List<String> r : rows) for (int c = 0; c < n; c++) width[c] = Math.max(width[c], r.get(c).length());
        StringBuilder sb = new StringBuilder();
        line(sb, header, width);
        List<String> dashes = new ArrayList<>();
        for (int c = 0; c < n; c++) dashes.add("-".repeat(width[c]));
        line(sb, dashes, width);
        for (List<String> r : rows) line(sb, r, width);
        return sb.toString();
    }

    private void line(StringBuilder sb, List<String> cells, int[] width) {
        StringBuilder l = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            if (c > 0) l.append("  ");
            String cell = cells.get(c);
            String pad = " ".repeat(width[c] - cell.length());
            l.append(rightAligned[c] ? pad + cell : cell + pad);
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }
}
