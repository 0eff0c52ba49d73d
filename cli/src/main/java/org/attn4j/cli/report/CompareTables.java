package org.attn4j.cli.report;

import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.cli.compare.BackendStatus;
import org.attn4j.cli.compare.Comparator;
import org.attn4j.cli.compare.ComparisonResult;
import org.attn4j.cli.compare.DecodeFindings;
import org.attn4j.cli.compare.ErrorCheck;
import org.attn4j.cli.compare.KernelShape;
import org.attn4j.cli.compare.Phase;
import org.attn4j.cli.compare.Speed;
import org.attn4j.cli.compare.VariantRow;
import org.attn4j.dsl.ModelConfig;
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
        long context = r.settings().context();
        TextTable t = new TextTable("config", "variant", "attention", "params/layer>", "vs MHA>", "KV B/token/layer>", "vs MHA>",
                "layers>", "KV/token>", "KV @ " + Formats.count(context) + " tokens>");
        for (VariantRow row : r.rows()) {
            ModelConfig m = row.model();
            VariantCost c = row.cost();
            String variant = m.getKvDtype() == null ? c.label() : c.label() + " " + m.getKvStorage() + " KV";
            t.row(m.getName(), variant, heads(m), Formats.count(c.params()), Formats.ratio(c.paramsVsMha()),
                    Formats.count(c.kvBytesPerToken()), Formats.ratio(c.kvVsMha()), Integer.toString(m.getLayers()),
                    Formats.bytes(m.getKvBytesPerToken()), Formats.bytes(row.kvBytesAtContext()));
        }
        return t;
    }

    /** Decode per config and backend: time, spread, calls, cache bytes read per step, speed-up over MHA, flags. */
    public static TextTable decode(ComparisonResult r) {
        TextTable t = new TextTable("config", "backend", "decode ms>", "min-max ms>", "calls>", "tok/s>", "KV read/step>", "KV GB/s>",
                "vs MHA>", "ordering vs bytes read");
        for (VariantRow row : r.rows()) {
            for (String b : r.measuredBackends()) {
                Speed.Timed d = row.timed(Phase.DECODE, b);
                Double speedUp = DecodeFindings.speedUpOverMha(r, row, b);
                t.row(row.model().getName(), b, d == null ? "-" : Formats.sig(d.millis()), d == null ? "-" : range(d),
                        d == null ? "-" : Integer.toString(d.calls()), d == null ? "-" : Formats.sig(d.tokensPerSecond()),
                        Formats.decimalBytes(row.decodeBytesRead()), d == null || d.gbPerSecond() == null ? "-" : Formats.sig(d.gbPerSecond()),
                        speedUp == null ? "-" : Formats.times(speedUp), d == null ? "" : orderingCell(r, row, b));
            }
        }
        return t;
    }

    /** Prefill per config and backend: time, spread, calls, queries per second, GFLOP/s. */
    public static TextTable prefill(ComparisonResult r) {
        TextTable t = new TextTable("config", "backend", "prefill ms>", "min-max ms>", "calls>", "tok/s>", "GFLOP/s>");
        for (VariantRow row : r.rows()) {
            for (String b : r.measuredBackends()) {
                Speed.Timed p = row.timed(Phase.PREFILL, b);
                t.row(row.model().getName(), b, p == null ? "-" : Formats.sig(p.millis()), p == null ? "-" : range(p),
                        p == null ? "-" : Integer.toString(p.calls()), p == null ? "-" : Formats.sig(p.tokensPerSecond()),
                        p == null ? "-" : Formats.sig(p.gflops()));
            }
        }
        return t;
    }

    /** The largest error against the float64 reference per config and backend. */
    public static TextTable errors(ComparisonResult r) {
        TextTable t = new TextTable("config", "backend", "max |error| vs float64 reference");
        for (VariantRow row : r.rows()) {
            for (String b : r.measuredBackends()) {
                ErrorCheck e = row.error(b);
                t.row(row.model().getName(), b, e instanceof ErrorCheck.Measured m ? Formats.errorCell(m) : e != null ? "not run" : "-");
            }
            // A reduced cache's row: what the rounding alone moves the float64 reference by (the floor of its errors).
            Double rounding = Comparator.storageRounding(row.model(), r.settings());
            if (rounding != null) t.row(row.model().getName(), "(" + row.model().getKvStorage() + " rounding, reference)", Formats.error(rounding));
        }
        return t;
    }

    private static String range(Speed.Timed t) {
        return Formats.sig(t.minMillis()) + "-" + Formats.sig(t.maxMillis());
    }

    private static String orderingCell(ComparisonResult r, VariantRow row, String backend) {
        String flag = DecodeFindings.flag(r, row, backend);
        return flag.isEmpty() ? "ok" : flag;
    }

    /** Decode orderings that contradict the bytes read (each pair once, with the numbers). */
    public static List<String> flags(ComparisonResult r) {
        List<String> out = new ArrayList<>();
        for (DecodeFindings.Contradiction c : DecodeFindings.contradictions(r)) out.add(c.message());
        return out;
    }

    /** Everything that was not measured, not timed or timed another way, with the reason: backends, then kernels. */
    public static List<String> notes(ComparisonResult r) {
        Set<String> out = new LinkedHashSet<>();
        for (BackendStatus s : r.backends()) {
            if (!s.measured()) out.add("backend " + s.name() + " not measured: " + s.reason());
        }
        for (VariantRow row : r.rows()) {
            String name = row.model().getName();
            for (String b : r.measuredBackends()) {
                for (Phase phase : Phase.values()) {
                    String what = name + " " + phase.name().toLowerCase(Locale.ROOT) + " on " + b;
                    Speed.NotTimed n = row.notTimed(phase, b);
                    Speed.Timed t = row.timed(phase, b);
                    if (n != null) out.add(what + " not timed: " + n.reason());
                    if (t != null && t.note() != null) out.add(what + ": " + t.note());
                }
                if (row.error(b) instanceof ErrorCheck.NotMeasured n) out.add(name + " error on " + b + " not measured: " + n.reason());
            }
        }
        return new ArrayList<>(out);
    }

    /** The timed kernel shapes, one line per config and phase. */
    public static List<String> shapes(ComparisonResult r) {
        List<String> out = new ArrayList<>();
        for (VariantRow row : r.rows()) {
            for (KernelShape s : row.shapes()) out.add(row.model().getName() + ": " + s.description());
        }
        return out;
    }

    /** One line on how speed was measured. */
    public static String method(ComparisonResult r) {
        var s = r.settings();
        var t = s.timing();
        return String.format(Locale.ROOT, "attention kernel only (no projections), float32 inputs, %d threads, steady state: warm-up "
                        + "in batches (>= %d calls and %.2f s each) until two batch medians agree within %.0f%% (at most %.1f s), then the "
                        + "median of >= %d calls and >= %.2f s (at most %.1f s); each backend's kernels share a budget of %.0f s, decode "
                        + "first. KV read/step: float32 K and V (or latent) bytes one decode call reads; vs MHA: MHA's decode time over "
                        + "this row's, same backend, same run. Error: largest |out - out_ref| on seeded random inputs (prefill %dx%d and "
                        + "decode over %d keys), FORMAT.md float32 tolerance atol 1e-5, rtol 1e-4. A row with a KV dtype (bf16, int8, ...) "
                        + "stores K/V and the decode cache in it (KV read/step counts those bytes, int8's scales included); its error "
                        + "is against the reference of the float values before rounding, its tolerance against the reference of the "
                        + "stored values, and '(TYPE rounding, reference)' is the rounding alone",
                s.threads(), t.batchCalls(), t.batchSeconds(), 100 * t.settleTolerance(), t.warmupBudgetSeconds(), t.minCalls(),
                t.minSeconds(), t.budgetSeconds(), s.backendSeconds(), s.errorLen(), s.errorLen(), 2 * s.errorLen() + 1);
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
