package org.attn4j.cli.report;

import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.dsl.ModelConfig;
import org.attn4j.dsl.check.Agreement;
import org.attn4j.dsl.check.NotRun;
import org.attn4j.dsl.compare.BackendStatus;
import org.attn4j.dsl.compare.ComparisonResult;
import org.attn4j.dsl.compare.KernelShape;
import org.attn4j.dsl.compare.Timed;
import org.attn4j.dsl.compare.VariantRow;
import org.attn4j.reference.cost.VariantCost;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The tables of {@code attn compare}, shared by the terminal output and the HTML report. */
public final class CompareTables {
    private CompareTables() {
    }

    /** Parameters and KV cache per config, all from the cost model. */
    public static TextTable cost(ComparisonResult r) {
        long context = r.getSettings().getContext();
        TextTable t = new TextTable("config", "variant", "attention", "params/layer>", "vs MHA>", "KV B/token/layer>", "vs MHA>",
                "layers>", "KV/token>", "KV @ " + Formats.count(context) + " tokens>");
        for (VariantRow row : r.getRows()) {
            ModelConfig m = row.getModel();
            VariantCost c = row.getCost();
            t.row(m.getName(), c.label(), heads(m), Formats.count(c.params()), Formats.ratio(c.paramsVsMha()),
                    Formats.count(c.kvBytesPerToken()), Formats.ratio(c.kvVsMha()), Integer.toString(m.getLayers()),
                    Formats.bytes(m.getKvBytesPerToken()), Formats.bytes(row.getKvBytesAtContext()));
        }
        return t;
    }

    /** Measured speed and error per config and backend. */
    public static TextTable speed(ComparisonResult r) {
        TextTable t = new TextTable("config", "backend", "prefill ms>", "prefill tok/s>", "GFLOP/s>", "decode ms>", "decode tok/s>",
                "KV GB/s>", "max |error| vs float64 reference");
        for (VariantRow row : r.getRows()) {
            for (String b : measuredBackends(r)) {
                Timed p = Formats.timed(row.getPrefill(), b);
                Timed d = Formats.timed(row.getDecode(), b);
                Agreement a = Formats.agreement(row.getErrors(), b);
                NotRun n = Formats.notRun(row.getErrors(), b);
                t.row(row.getModel().getName(), b,
                        p == null ? "-" : Formats.sig(p.getMillis()), p == null ? "-" : Formats.sig(p.getTokensPerSecond()),
                        p == null ? "-" : Formats.sig(p.getGflops()),
                        d == null ? "-" : Formats.sig(d.getMillis()), d == null ? "-" : Formats.sig(d.getTokensPerSecond()),
                        d == null || d.getGbPerSecond() == null ? "-" : Formats.sig(d.getGbPerSecond()),
                        a != null ? Formats.errorCell(a) : n != null ? "not run" : "-");
            }
        }
        return t;
    }

    /** Names of the backends that were measured, in discovery order. */
    public static List<String> measuredBackends(ComparisonResult r) {
        List<String> out = new ArrayList<>();
        for (BackendStatus s : r.getBackends()) if (s.getMeasured()) out.add(s.getName());
        return out;
    }

    /** Everything that was not measured, not timed or timed another way, with the reason: backends, then kernels. */
    public static List<String> notes(ComparisonResult r) {
        Set<String> out = new LinkedHashSet<>();
        for (BackendStatus s : r.getBackends()) {
            if (!s.getMeasured()) out.add("backend " + s.getName() + " not measured: " + s.getReason());
        }
        for (VariantRow row : r.getRows()) {
            for (String b : measuredBackends(r)) {
                String p = Formats.notTimedReason(row.getPrefill(), b);
                String d = Formats.notTimedReason(row.getDecode(), b);
                NotRun n = Formats.notRun(row.getErrors(), b);
                if (p != null) out.add(row.getModel().getName() + " prefill on " + b + " not timed: " + p);
                if (d != null) out.add(row.getModel().getName() + " decode on " + b + " not timed: " + d);
                Timed dt = Formats.timed(row.getDecode(), b);
                Timed pt = Formats.timed(row.getPrefill(), b);
                if (pt != null && pt.getNote() != null) out.add(row.getModel().getName() + " prefill on " + b + ": " + pt.getNote());
                if (dt != null && dt.getNote() != null) out.add(row.getModel().getName() + " decode on " + b + ": " + dt.getNote());
                if (n != null) out.add(row.getModel().getName() + " error on " + b + " not measured: " + String.join("; ", n.getReasons()));
            }
        }
        return new ArrayList<>(out);
    }

    /** The timed kernel shapes, one line per config and phase. */
    public static List<String> shapes(ComparisonResult r) {
        List<String> out = new ArrayList<>();
        for (VariantRow row : r.getRows()) {
            for (KernelShape s : row.getShapes()) out.add(row.getModel().getName() + ": " + s.getDescription());
        }
        return out;
    }

    /** One line on how speed was measured. */
    public static String method(ComparisonResult r) {
        return String.format(Locale.ROOT, "attention kernel only (no projections), float32 inputs, median of up to %d timed run(s) "
                        + "after one warm-up (fewer when a run exceeds the %d ms budget), %d threads; error: largest |out - out_ref| on "
                        + "seeded random inputs (prefill %dx%d and decode over %d keys), FORMAT.md float32 tolerance atol 1e-5, rtol 1e-4",
                r.getSettings().getReps(), r.getSettings().getBudgetMillis(), r.getSettings().getThreads(),
                r.getSettings().getErrorLen(), r.getSettings().getErrorLen(), 2 * r.getSettings().getErrorLen() + 1);
    }

    /** {@code 32/8 heads x 128} or {@code 128 heads, latent 512 + rope 64}. */
    public static String heads(ModelConfig m) {
        if (m.getLayer() instanceof StandardLayerConfig s) {
            return s.qHeads() + "/" + s.kvHeads() + " heads x " + s.headDim()
                    + (s.window().isNone() ? "" : ", window " + s.window().left());
        }
        MlaLayerConfig l = (MlaLayerConfig) m.getLayer();
        return l.qHeads() + " heads, latent " + l.kvLoraRank() + " + rope " + l.qkRopeHeadDim();
    }
}
