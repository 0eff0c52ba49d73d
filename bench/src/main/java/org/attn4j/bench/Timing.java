package org.attn4j.bench;

import org.attn4j.api.AttentionException;

import java.util.Arrays;
import java.util.Locale;

/**
 * Wall-clock timing of a repeated action: {@code warmup} untimed runs, then {@code reps} timed ones
 * ({@link #measure(int, double, int, Action)}), or until the times have settled, then for a minimum count and time
 * ({@link #steady(Steady, Action)}).
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

    /** A nanosecond clock: {@link System#nanoTime()}, or a fake one in tests. */
    @FunctionalInterface
    public interface Clock {
        long nanoTime();
    }

    /**
     * How {@link #steady} warms up and measures.
     *
     * @param batchCalls          calls per warm-up batch at least
     * @param batchSeconds        time per warm-up batch at least (two batches of a few 1 ms calls can agree while the
     *                            JIT has not compiled the loop yet)
     * @param settleTolerance     the warm-up ends when a batch's median is within this fraction of the previous
     *                            batch's (0.05 = 5 %)
     * @param warmupBudgetSeconds the warm-up stops here even if the times have not settled (after at least one call)
     * @param minCalls            timed calls wanted at least
     * @param minSeconds          timed time wanted at least (short kernels get more calls)
     * @param budgetSeconds       the timed phase stops here even if {@code minCalls} or {@code minSeconds} are not
     *                            reached (after at least one call), so a slow action is bounded
     */
    public record Steady(int batchCalls, double batchSeconds, double settleTolerance, double warmupBudgetSeconds, int minCalls,
                         double minSeconds, double budgetSeconds) {
        public Steady {
            AttentionException.require(batchCalls >= 1, "batchCalls", ">= 1", batchCalls);
            requireSeconds(batchSeconds, "batchSeconds");
            AttentionException.require(settleTolerance > 0 && Double.isFinite(settleTolerance), "settleTolerance", "> 0", settleTolerance);
            requireSeconds(warmupBudgetSeconds, "warmupBudgetSeconds");
            AttentionException.require(minCalls >= 1, "minCalls", ">= 1", minCalls);
            requireSeconds(minSeconds, "minSeconds");
            requireSeconds(budgetSeconds, "budgetSeconds");
        }

        private static void requireSeconds(double seconds, String name) {
            AttentionException.require(seconds >= 0 && Double.isFinite(seconds), name, "a finite number >= 0", seconds);
        }

        /**
         * Warm-up batches of at least 5 calls and 0.1 s, settled within 5 %, for up to 1.5 s; then at least 10 calls and
         * 0.3 s, for up to 1 s.
         */
        public static Steady defaults() {
            return new Steady(5, 0.1, 0.05, 1.5, 10, 0.3, 1.0);
        }

        /** The same with the two budgets at most {@code seconds} together (60 % warm-up, 40 % timed). */
        public Steady within(double seconds) {
            requireSeconds(seconds, "seconds");
            return new Steady(batchCalls, Math.min(batchSeconds, 0.3 * seconds), settleTolerance, Math.min(warmupBudgetSeconds, 0.6 * seconds),
                    minCalls, Math.min(minSeconds, 0.4 * seconds), Math.min(budgetSeconds, 0.4 * seconds));
        }
    }

    /**
     * A steady-state measurement.
     *
     * @param timing        the timed calls (median, min, max, count)
     * @param warmupCalls   untimed calls before them
     * @param warmupSeconds time the warm-up took
     * @param settled       whether two successive warm-up batches agreed; false when the warm-up budget ran out first
     */
    public record SteadyResult(Timing timing, int warmupCalls, double warmupSeconds, boolean settled) {
    }

    /** {@link #steady(Steady, Action, Clock)} on the system clock. */
    public static SteadyResult steady(Steady settings, Action action) throws Exception {
        return steady(settings, action, System::nanoTime);
    }

    /**
     * Times {@code action} in its steady state. Warm-up: batches of {@link Steady#batchCalls} calls (and
     * {@link Steady#batchSeconds}) until the median
     * of a batch is within {@link Steady#settleTolerance} of the previous batch's median (the JIT has compiled the hot
     * loops and caches are warm), or the warm-up budget is spent. Then timed calls until there are at least
     * {@link Steady#minCalls} of them and they took {@link Steady#minSeconds} in total, or the timing budget is spent;
     * always at least one warm-up and one timed call.
     */
    public static SteadyResult steady(Steady settings, Action action, Clock clock) throws Exception {
        AttentionException.require(settings != null, "settings", "timing settings", "null");
        long warmupStart = clock.nanoTime();
        double previousMedian = Double.NaN;
        boolean settled = false;
        int warmupCalls = 0;
        while (!settled) {
            double[] batch = new double[settings.batchCalls()];
            int n = 0;
            long batchStart = clock.nanoTime();
            boolean outOfBudget = false;
            while ((n < settings.batchCalls() || seconds(batchStart, clock) < settings.batchSeconds()) && !outOfBudget) {
                if (n == batch.length) batch = Arrays.copyOf(batch, 2 * n);
                batch[n++] = timeOnce(action, clock);
                warmupCalls++;
                outOfBudget = seconds(warmupStart, clock) >= settings.warmupBudgetSeconds();
            }
            // a batch cut short by the budget is not compared: too few calls to call the times settled
            if (outOfBudget && (n < settings.batchCalls() || seconds(batchStart, clock) < settings.batchSeconds())) break;
            double median = of(Arrays.copyOf(batch, n)).median();
            settled = !Double.isNaN(previousMedian)
                    && Math.abs(median - previousMedian) <= settings.settleTolerance() * previousMedian;
            previousMedian = median;
            if (outOfBudget) break;
        }
        double warmupSeconds = seconds(warmupStart, clock);

        long timedStart = clock.nanoTime();
        double[] times = new double[Math.max(16, settings.minCalls())];
        int count = 0;
        double total = 0;
        while (count == 0 || ((count < settings.minCalls() || total < settings.minSeconds())
                && seconds(timedStart, clock) < settings.budgetSeconds())) {
            if (count == times.length) times = Arrays.copyOf(times, 2 * count);
            times[count] = timeOnce(action, clock);
            total += times[count++];
        }
        return new SteadyResult(of(Arrays.copyOf(times, count)), warmupCalls, warmupSeconds, settled);
    }

    private static double timeOnce(Action action, Clock clock) throws Exception {
        long t0 = clock.nanoTime();
        action.run();
        return (clock.nanoTime() - t0) / 1e9;
    }

    private static double seconds(long since, Clock clock) {
        return (clock.nanoTime() - since) / 1e9;
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
