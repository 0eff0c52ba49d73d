package org.attn4j.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.util.List;
import java.util.Locale;

/** Renders bench rows as a terminal table or as a JSON array (one object per row). */
public final class BenchReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchReport() {
    }

    /** A JSON array of {@link BenchRow#toJson()} objects. */
    public static String json(List<BenchRow> rows) {
        try {
            return JSON.writeValueAsString(rows.stream().map(BenchRow::toJson).toList());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write bench rows as JSON", e);
        }
    }

    /** A fixed-width table: workload, backend, value, % of limit, ratio to the peer, median, goal, status. */
    public static String table(List<BenchRow> rows) {
        StringBuilder sb = new StringBuilder();
        String fmt = "%-18s %-8s %16s %9s %8s %11s  %-34s %s%n";
        sb.append(String.format(Locale.ROOT, fmt, "workload", "backend", "value", "% limit", "vs ORT", "median", "target", "status"));
        for (BenchRow r : rows) {
            String status = r.met() == null ? (r.note() != null && r.value() == null ? "n/a: " + r.note() : "")
                    : r.met() ? "MET" : "MISSED";
            if (r.met() != null && r.note() != null) status += " (" + r.note() + ")";
            sb.append(String.format(Locale.ROOT, fmt, r.workload(), r.backend(),
                    r.value() == null ? "-" : num(r.value()) + " " + r.unit(),
                    r.percentOfLimit() == null ? "-" : String.format(Locale.ROOT, "%.1f%%", r.percentOfLimit()),
                    r.ratioToPeer() == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.ratioToPeer()),
                    r.medianMs() == null ? "-" : Timing.ms(r.medianMs() / 1e3),
                    r.target() == null ? "" : r.target(), status));
        }
        return sb.toString();
    }

    private static String num(double x) {
        if (Math.abs(x) >= 100) return String.format(Locale.ROOT, "%.0f", x);
        if (Math.abs(x) >= 10) return String.format(Locale.ROOT, "%.1f", x);
        return String.format(Locale.ROOT, "%.2f", x);
    }
}
