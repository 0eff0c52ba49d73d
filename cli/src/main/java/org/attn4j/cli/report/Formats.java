package org.attn4j.cli.report;

import org.attn4j.dsl.check.Agreement;
import org.attn4j.dsl.check.CheckOutcome;
import org.attn4j.dsl.check.NotRun;
import org.attn4j.dsl.compare.NotTimed;
import org.attn4j.dsl.compare.Speed;
import org.attn4j.dsl.compare.Timed;

import java.util.List;
import java.util.Locale;

/** Number formats shared by the terminal table and the HTML report (locale-independent). */
public final class Formats {
    private Formats() {
    }

    /** {@code 67,108,864}. */
    public static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** {@code 0.5625}. */
    public static String ratio(double r) {
        return String.format(Locale.ROOT, "%.4f", r);
    }

    /** Bytes in binary units: {@code 512 B}, {@code 16.0 KiB}, {@code 4.0 GiB}. */
    public static String bytes(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** Three significant digits, plain for ordinary magnitudes: {@code 123}, {@code 4.56}, {@code 0.0123}. */
    public static String sig(double x) {
        if (Double.isNaN(x) || Double.isInfinite(x)) return Double.toString(x);
        double a = Math.abs(x);
        if (a >= 100) return String.format(Locale.ROOT, "%,.0f", x);
        if (a >= 10) return String.format(Locale.ROOT, "%.1f", x);
        if (a >= 1) return String.format(Locale.ROOT, "%.2f", x);
        return String.format(Locale.ROOT, "%.3g", x);
    }

    /** {@code 3.1e-07}. */
    public static String error(double e) {
        return String.format(Locale.ROOT, "%.1e", e);
    }

    /** The speed a backend reached, or {@code -} with the reason given elsewhere. */
    public static Timed timed(List<Speed> speeds, String backend) {
        for (Speed s : speeds) if (s.getBackend().equals(backend) && s instanceof Timed t) return t;
        return null;
    }

    public static String notTimedReason(List<Speed> speeds, String backend) {
        for (Speed s : speeds) if (s.getBackend().equals(backend) && s instanceof NotTimed n) return n.getReason();
        return null;
    }

    public static Agreement agreement(List<CheckOutcome> errors, String backend) {
        for (CheckOutcome o : errors) if (o instanceof Agreement a && a.getBackend().equals(backend)) return a;
        return null;
    }

    public static NotRun notRun(List<CheckOutcome> errors, String backend) {
        for (CheckOutcome o : errors) if (o instanceof NotRun n && n.getBackend().equals(backend)) return n;
        return null;
    }

    /** {@code 3.1e-07 ok} or {@code 2.0e-03 OUTSIDE tolerance}. */
    public static String errorCell(Agreement a) {
        return error(a.getMaxAbsError()) + (a.getWithinTolerance() ? " ok" : " OUTSIDE tolerance");
    }
}
