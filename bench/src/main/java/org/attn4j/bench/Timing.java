package org.attn4j.bench;

import org.attn4j.api.AttentionException;

import java.util.Arrays;
import java.util.Locale;

/**
 * Wall-clock timing of a repeated action: {@code warmup} untimed runs, then {@code reps} timed ones.
 *
 * @param min    fastest run, seconds
 * @param median median run, seconds (the figure reported)
 * @param max    slowest run, seconds
 * @param reps   timed runs
 */
public record Timing(double min, double median, double max, int reps) {

    /** Something to time; may throw (the peer's calls do). */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    /** Times {@code action} after exactly {@code warmup} untimed calls. */
    public static Timing measure(int warmup, int reps, Action action) throws Exception {
        return measure(warmup, 0, reps, action);
    }

    /**
     * Times {@code action}: untimed calls until at least {@code warmup} calls <em>and</em> {@code warmupSeconds} have
     * passed (a few calls of a millisecond kernel are not enough for C2 to compile its inner loops), then
     * {@code reps} timed calls. The median of an even count is the mean of the two middle runs.
     */
    public static Timing measure(int warmup, double warmupSeconds, int reps, Action action) throws Exception {
        return measure(warmup, warmupSeconds, reps, action, null);
    }

    /** As {@link #measure(int, double, int, Action)}, running {@code before} (untimed, may be null) before each timed call. */
    public static Timing measure(int warmup, double warmupSeconds, int reps, Action action, Action before) throws Exception {
        AttentionException.require(warmup >= 0, "warmup", ">= 0", warmup);
        AttentionException.require(warmupSeconds >= 0 && Double.isFinite(warmupSeconds), "warmupSeconds", ">= 0", warmupSeconds);
        AttentionException.require(reps >= 1, "reps", ">= 1", reps);
        long start = System.nanoTime();
        for (int i = 0; i < warmup || (System.nanoTime() - start) / 1e9 < warmupSeconds; i++) action.run();
        double[] s = new double[reps];
        for (int i = 0; i < reps; i++) {
            if (before != null) before.run();
            long t0 = System.nanoTime();
            action.run();
            s[i] = (System.nanoTime() - t0) / 1e9;
        }
        return of(s);
    }

    /** Statistics of measured durations (seconds). */
    public static Timing of(double... seconds) {
        AttentionException.require(seconds.length >= 1, "seconds.length", ">= 1", seconds.length);
        double[] s = seconds.clone();
        Arrays.sort(s);
        int n = s.length;
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        return new Timing(s[0], median, s[n - 1], n);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s / %s / %s (min/median/max of %d)", ms(min), ms(median), ms(max), reps);
    }

    static String ms(double seconds) {
        double ms = seconds * 1e3;
        return ms >= 100 ? String.format(Locale.ROOT, "%.0f ms", ms) : String.format(Locale.ROOT, "%.2f ms", ms);
    }
}
