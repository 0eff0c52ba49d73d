package org.attn4j.cli.matrix;

import org.attn4j.cli.matrix.ConformanceMatrix.Cell;
import org.attn4j.cli.matrix.ConformanceMatrix.Column;
import org.attn4j.cli.matrix.ConformanceMatrix.Row;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The matrix as one self-contained HTML page (inline CSS, no script, no external URL), like {@code attn compare}'s
 * report: a coloured cell per check and backend; a failing cell opens to its full report.
 */
public final class MatrixHtml {
    private MatrixHtml() {
    }

    public static String render(ConformanceMatrix m) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>attn4j conformance matrix</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n")
                .append("<h1>attn4j conformance matrix</h1>\n<p class=\"meta\">Generated ")
                .append(esc(ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME)))
                .append(String.format(Locale.ROOT, " in %.1f s &middot; TCK seed %d, %d cases per kernel check, %d per layer check &middot; golden cases from ",
                        m.millis() / 1000.0, m.config().getSeed(), m.config().getIterations(), m.config().getLayerIterations()))
                .append("<code>").append(esc(m.goldenDir().toString())).append("</code></p>\n")
                .append("<p>Each cell: <span class=\"pass\">pass</span> (cases run, declined), <span class=\"skip\">skip</span> ")
                .append("with the backend's reasons (it declined every case), or <span class=\"fail\">FAIL</span> with the shrunk ")
                .append("counterexample (click it for the full report and the replay line). ")
                .append(String.format(Locale.ROOT, "%d failing cell(s).", m.failures())).append("</p>\n");
        h.append("<table>\n<thead><tr><th>check</th>");
        for (Column c : m.columns()) {
            h.append("<th>").append(esc(c.backend()));
            if (c.unavailable() != null) h.append("<br><span class=\"note\">unavailable: ").append(esc(c.unavailable())).append("</span>");
            h.append("</th>");
        }
        h.append("</tr></thead>\n<tbody>\n");
        for (Row r : m.rows()) {
            h.append("<tr><th title=\"").append(esc(r.description())).append("\">").append(esc(r.name())).append("</th>");
            for (Cell c : r.cells()) {
                String cls = switch (c.outcome()) {
                    case PASS -> "pass";
                    case SKIP -> "skip";
                    case FAIL -> "fail";
                };
                h.append("<td class=\"").append(cls).append("\">");
                if (c.details() != null) {
                    h.append("<details><summary>").append(esc(MatrixMarkdown.cut(c.summary()))).append("</summary><pre>")
                            .append(esc(c.details().strip())).append("</pre></details>");
                } else {
                    h.append(esc(c.summary()));
                }
                h.append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody>\n</table>\n<p class=\"meta\">Produced by <code>attn matrix</code> (cli/README.md).</p>\n</body>\n</html>\n");
        return h.toString();
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> b.append(ch);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
            table { border-collapse: collapse; font-size: 0.85em; }
            th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; text-align: left; max-width: 28em; }
            thead th { background: #f0f0f0; position: sticky; top: 0; }
            tbody th { font-weight: normal; font-family: monospace; white-space: nowrap; }
            td.pass, span.pass { background: #e6f4e6; }
            td.skip, span.skip { background: #f4f4f4; color: #555; }
            td.fail, span.fail { background: #fbe3e3; }
            pre { white-space: pre-wrap; font-size: 0.9em; }
            summary { cursor: pointer; }
            .meta, .note { color: #666; font-size: 0.9em; }
            """;
}
