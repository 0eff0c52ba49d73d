package org.attn4j.cli.report;

import org.attn4j.cli.compare.ComparisonResult;
import org.attn4j.cli.compare.VariantRow;
import org.attn4j.reference.cost.CostModel;
import org.attn4j.reference.cost.VariantCost;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The {@code attn compare --report} page: one self-contained HTML file (inline CSS and inline SVG charts, no
 * script, no external URL), readable offline and in any browser.
 */
public final class HtmlReport {
    private HtmlReport() {
    }

    /** Writes the report for {@code r} to {@code file} (parent folders are created). */
    public static void write(ComparisonResult r, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, render(r), StandardCharsets.UTF_8);
    }

    /**
     * Why {@code file} cannot be written as a report, or {@code null} if it looks writable: checked before the
     * (long) measurements, so a bad path fails at once.
     */
    public static String unwritableReason(Path file) {
        Path absolute = file.toAbsolutePath().normalize();
        if (Files.isDirectory(absolute)) return "is a directory; give a file name such as " + absolute.resolve("compare.html");
        for (Path p = absolute.getParent(); p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                if (!Files.isDirectory(p)) return "cannot be created: " + p + " is a file, not a directory";
                if (!Files.isWritable(p) && p.equals(absolute.getParent())) return "cannot be created: " + p + " is not writable";
                break;
            }
        }
        if (Files.exists(absolute) && !Files.isWritable(absolute)) return "is not writable";
        return null;
    }

    /** The report as HTML text. */
    public static String render(ComparisonResult r) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>attn4j compare: ").append(esc(r.title())).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
        h.append("<h1>attn4j compare: ").append(esc(r.title())).append("</h1>\n");
        h.append("<p class=\"meta\">Generated ").append(esc(ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME)))
                .append(" in ").append(String.format(java.util.Locale.ROOT, "%.1f", r.millis() / 1000.0)).append(" s &middot; ")
                .append(esc(r.environment())).append("</p>\n");

        h.append("<h2>Parameters and KV cache</h2>\n");
        h.append("<p>Per attention layer, from the cost model (<code>org.attn4j.reference.cost.CostModel</code>); ")
                .append("\"vs MHA\" is relative to an MHA layer with the same heads. KV bytes use each config's cache element size.</p>\n");
        table(h, CompareTables.cost(r));
        figure(h, Charts.cacheVsContext(r), "KV cache size of one sequence through all layers as the context grows (log-log).");

        h.append("<h2>Speed and accuracy</h2>\n<p>").append(esc(CompareTables.method(r))).append(".</p>\n");
        List<String> backends = r.measuredBackends();
        if (backends.isEmpty()) {
            h.append("<p class=\"warn\">No optimized backend was measured (see the notes below).</p>\n");
        } else {
            h.append("<h3>Decode: one query over ").append(esc(Formats.count(r.settings().decodeKv()))).append(" cached tokens</h3>\n");
            table(h, CompareTables.decode(r));
            List<String> flags = CompareTables.flags(r);
            if (!flags.isEmpty()) {
                h.append("<ul class=\"warn\">\n");
                for (String f : flags) h.append("<li>").append(esc(f)).append("</li>\n");
                h.append("</ul>\n");
            }
            h.append("<h3>Prefill: ").append(esc(Formats.count(r.settings().prefillLen()))).append(" queries over as many keys</h3>\n");
            table(h, CompareTables.prefill(r));
            h.append("<h3>Error against the float64 reference</h3>\n");
            table(h, CompareTables.errors(r));
            h.append("<div class=\"charts\">\n");
            figure(h, Charts.prefillSpeed(r), "Prefill: queries per second of one attention call (higher is better).");
            figure(h, Charts.decodeSpeed(r), "Decode: tokens per second, one query per call over the cache (higher is better).");
            figure(h, Charts.error(r), "Largest absolute error against the float64 reference on a small random problem.");
            h.append("</div>\n");
        }
        h.append("<h3>Measured shapes</h3>\n<ul>\n");
        for (String s : CompareTables.shapes(r)) h.append("<li>").append(esc(s)).append("</li>\n");
        h.append("</ul>\n");
        List<String> notes = CompareTables.notes(r);
        if (!notes.isEmpty()) {
            h.append("<h3>Notes: not measured, or measured another way</h3>\n<ul>\n");
            for (String n : notes) h.append("<li>").append(esc(n)).append("</li>\n");
            h.append("</ul>\n");
        }

        h.append("<h2>Formulas</h2>\n<p>").append(esc(CostModel.LEGEND)).append(".</p>\n");
        for (VariantRow row : r.rows()) {
            VariantCost c = row.cost();
            h.append("<h3>").append(esc(row.model().getName())).append("</h3>\n<pre>")
                    .append(esc(c.paramsFormula())).append('\n').append(esc(c.kvElementsFormula())).append('\n')
                    .append(esc(c.kvBytesFormula())).append("</pre>\n");
            if (!row.model().getSource().isEmpty()) {
                h.append("<p class=\"meta\">Source: ").append(esc(row.model().getSource())).append("</p>\n");
            }
        }
        h.append("</body>\n</html>\n");
        return h.toString();
    }

    private static void table(StringBuilder h, TextTable t) {
        h.append("<table>\n<thead><tr>");
        for (int c = 0; c < t.header().size(); c++) {
            h.append(t.rightAligned(c) ? "<th class=\"num\">" : "<th>").append(esc(t.header().get(c))).append("</th>");
        }
        h.append("</tr></thead>\n<tbody>\n");
        for (List<String> row : t.rows()) {
            h.append("<tr>");
            for (int c = 0; c < row.size(); c++) {
                String cell = row.get(c);
                String cls = (t.rightAligned(c) ? "num" : "") + (cell.startsWith("FLAG") ? " flag" : "");
                h.append(cls.isBlank() ? "<td>" : "<td class=\"" + cls.trim() + "\">").append(esc(cell)).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody>\n</table>\n");
    }

    private static void figure(StringBuilder h, String svg, String caption) {
        if (svg == null) return;
        h.append("<figure>\n").append(svg).append("\n<figcaption>").append(esc(caption)).append("</figcaption>\n</figure>\n");
    }

    static String esc(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    private static final String CSS = """
            body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 1280px;
                   padding: 0 1rem; color: #222; line-height: 1.45; }
            h1 { font-size: 1.6rem; margin-bottom: .2rem; }
            h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
            h3 { font-size: 1.05rem; margin-bottom: .3rem; }
            .meta { color: #666; font-size: .9rem; }
            .warn { color: #a40; }
            td.flag { color: #a40; font-weight: bold; }
            table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
            th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: left; white-space: nowrap; }
            th { background: #f4f6f8; }
            td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
            tbody tr:nth-child(even) { background: #fafafa; }
            figure { margin: 1rem 0; display: inline-block; vertical-align: top; }
            figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
            figcaption { color: #555; font-size: .85rem; max-width: 760px; }
            pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .85rem; }
            """;
}
