package org.attn4j.cli.report;

import org.attn4j.cli.compare.ComparisonResult;
import org.attn4j.cli.compare.ErrorCheck;
import org.attn4j.cli.compare.Phase;
import org.attn4j.cli.compare.Speed;
import org.attn4j.cli.compare.VariantRow;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The report's charts, drawn with XChart (headless) and encoded as SVG text for inlining into HTML.
 * Each method returns {@code null} when there is nothing to draw (e.g. no backend was measured).
 */
public final class Charts {
    static final int WIDTH = 760;
    static final int HEIGHT = 420;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd),
            new Color(0xff7f0e), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

    private Charts() {
    }

    /** Whole-model KV-cache size of one sequence against context length, log-log, one line per config. */
    public static String cacheVsContext(ComparisonResult r) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title("KV cache of one sequence vs context length")
                .xAxisTitle("context length (tokens)").yAxisTitle("KV cache, all layers (MiB)").build();
        style(chart.getStyler());
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setXAxisDecimalPattern("#,###");
        chart.getStyler().setYAxisDecimalPattern("#,###.##");
        double[] x = contexts(r.settings().context());
        for (VariantRow row : r.rows()) {
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) y[i] = row.model().kvCacheBytes((long) x[i]) / (1024.0 * 1024.0);
            var s = chart.addSeries(row.model().getName() + " (" + row.cost().label() + ")", x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        return svg(chart);
    }

    /** Prefill speed (queries per second) per config and backend. */
    public static String prefillSpeed(ComparisonResult r) {
        return bars(r, "Prefill speed (attention kernel, float32)", "queries / s",
                row -> b -> { Speed.Timed t = row.timed(Phase.PREFILL, b); return t == null ? null : t.tokensPerSecond(); });
    }

    /** Decode speed (tokens per second, one query per call) per config and backend. */
    public static String decodeSpeed(ComparisonResult r) {
        return bars(r, "Decode speed over " + Formats.count(r.settings().decodeKv()) + " cached tokens (attention kernel, float32)",
                "tokens / s", row -> b -> { Speed.Timed t = row.timed(Phase.DECODE, b); return t == null ? null : t.tokensPerSecond(); });
    }

    /** Largest error against the float64 reference per config and backend. */
    public static String error(ComparisonResult r) {
        String chart = bars(r, "Max |error| vs the float64 reference (tolerance 1e-5 + 1e-4·|ref|)", "max |error|",
                row -> b -> { return row.error(b) instanceof ErrorCheck.Measured m ? m.maxAbsError() : null; });
        return chart;
    }

    private static String bars(ComparisonResult r, String title, String yTitle, Function<VariantRow, Function<String, Double>> value) {
        List<String> backends = r.measuredBackends();
        if (backends.isEmpty()) return null;
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("config").yAxisTitle(yTitle).build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setLabelsVisible(false);
        chart.getStyler().setYAxisDecimalPattern(yTitle.contains("error") ? "0.0E0" : "#,###");
        boolean any = false;
        List<String> categories = new ArrayList<>();
        for (VariantRow row : r.rows()) categories.add(row.model().getName());
        for (String b : backends) {
            List<Number> ys = new ArrayList<>();
            for (VariantRow row : r.rows()) {
                Double v = value.apply(row).apply(b);
                any |= v != null;
                ys.add(v == null ? 0.0 : v); // not measured: drawn as 0, the table and notes say why
            }
            chart.addSeries(b, categories, ys);
        }
        return any ? svg(chart) : null;
    }

    private static void style(Styler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        if (s instanceof org.knowm.xchart.style.AxesChartStyler a) a.setPlotGridLinesColor(new Color(0xdddddd));
        s.setLegendBorderColor(new Color(0xcccccc));
        s.setSeriesColors(PALETTE);
        s.setChartTitleBoxVisible(false);
        s.setPlotBorderColor(new Color(0xbbbbbb));
    }

    /** Context lengths from 512 tokens up to at least 128K and the compared context, doubling. */
    static double[] contexts(long context) {
        TreeSet<Long> xs = new TreeSet<>();
        long top = Math.max(context, 128 * 1024);
        for (long c = 512; c <= top; c *= 2) xs.add(c);
        xs.add(context);
        return xs.stream().mapToDouble(Long::doubleValue).toArray();
    }

    /**
     * The chart as an {@code <svg>} element for inline HTML: without the XML prolog and the DOCTYPE (which names
     * an external DTD) and without namespace declarations (HTML parsing puts inline {@code <svg>} in the SVG
     * namespace), so the report references no URL at all. XChart draws text as glyph outlines, so the SVG holds
     * paths, not {@code <text>}; the chart's title goes into {@code aria-label}.
     */
    static String svg(Chart<?, ?> chart) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        } catch (IOException e) {
            throw new UncheckedIOException("could not draw chart '" + chart.getTitle() + "'", e);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        int start = text.indexOf("<svg");
        if (start < 0) throw new IllegalStateException("XChart wrote no <svg> element for '" + chart.getTitle() + "'");
        text = text.substring(start);
        text = text.replaceAll("\\s+xmlns(:\\w+)?=\"[^\"]*\"", "").trim();
        // XChart draws text as glyph outlines: name the chart for screen readers (and tests) on the root element.
        return "<svg role=\"img\" aria-label=\"" + HtmlReport.esc(chart.getTitle()) + "\"" + text.substring("<svg".length());
    }
}
