package org.attn4j.cli.report;

import org.attn4j.cli.compare.ErrorCheck;

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

    /** {@code 3.1e-07 ok} or {@code 2.0e-03 OUTSIDE tolerance}. */
    public static String errorCell(ErrorCheck.Measured e) {
        return error(e.maxAbsError()) + (e.withinTolerance() ? " ok" : " OUTSIDE tolerance");
    }

    /** Bytes in decimal units for rates and traffic: {@code 134 MB}, {@code 9.44 MB}, {@code 512 kB}. */
    public static String decimalBytes(double bytes) {
        String[] units = {"B", "kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return sig(v) + " " + units[u];
    }

    /** {@code 4.12x}. */
    public static String times(double x) {
        return String.format(Locale.ROOT, "%.2fx", x);
    }
}
