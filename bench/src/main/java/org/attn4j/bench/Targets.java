package org.attn4j.bench;

import java.util.Locale;

/** The performance goals of the kernels-cpu issue, per workload (docs/PERFORMANCE.md states them too). */
public final class Targets {
    /** Every workload must be at least this many times faster than ONNX Runtime. */
    public static final double PEER_RATIO = 2.0;
    /** MHA 32/32 decode time over GQA 32/8 decode time (4x the bytes; ideal 4.0). */
    public static final double MHA_OVER_GQA = 3.6;
    /** Naive (decompress-then-attend) MLA decode step time over the absorbed step time. */
    public static final double MLA_NAIVE_OVER_ABSORBED = 10.0;

    private Targets() {
    }

    /** Minimum percent of the machine limit (FMA peak for prefill, DRAM bandwidth for decode), by workload name. */
    public static double minPercent(String workload) {
        return switch (workload) {
            case "P1" -> 60;
            case "P2" -> 55;
            case "D1", "D2" -> 80;
            case "M1" -> 70;
            default -> Double.NaN;
        };
    }

    /** The goal in words, e.g. {@code >= 60% of FMA peak, >= 2x ORT}; {@code null} for workloads without one. */
    public static String describe(Workload w) {
        double p = minPercent(w.name());
        if (Double.isNaN(p)) return null;
        return String.format(Locale.ROOT, ">= %.0f%% of %s, >= %.0fx ORT", p, w.memoryBound() ? "DRAM read" : "FMA peak", PEER_RATIO);
    }

    /**
     * Whether {@code percent} and {@code ratio} meet the goal: {@code false} as soon as a measured part misses,
     * {@code true} when both are measured and met, else {@code null} (no goal, or not enough measured to say).
     */
    public static Boolean met(Workload w, Double percent, Double ratio) {
        double p = minPercent(w.name());
        if (Double.isNaN(p)) return null;
        if ((percent != null && percent < p) || (ratio != null && ratio < PEER_RATIO)) return false;
        return percent != null && ratio != null ? Boolean.TRUE : null;
    }
}
