package org.attn4j.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of the bench output: a workload (or a derived figure such as the MHA/GQA ratio) on one backend.
 * {@code null} means "not measured" (and {@link #note} says why when it is known).
 *
 * @param workload       P1 P2 D1 D2 M1, or a derived name (D1-MHA, D1 MHA/GQA, M1-step, M1-naive, M1 naive/absorbed,
 *                       fma_peak, dram_read)
 * @param backend        {@code cpu}, {@code ort}, {@code machine} (limits)...
 * @param value          the figure in {@link #unit}
 * @param unit           GFLOP/s, GB/s, ms or x (a ratio)
 * @param percentOfLimit 0-100: of the FMA peak (GFLOP/s rows) or of the DRAM read bandwidth (GB/s rows)
 * @param ratioToPeer    peer median time / this median time: {@code > 1} = faster than the peer
 * @param medianMs       median wall time of one call, ms
 * @param target         the goal for this row in words, or {@code null}
 * @param met            whether the goal is met; {@code null} when no goal or a part is unmeasured
 * @param note           why something is missing, or other context
 */
public record BenchRow(String workload, String backend, Double value, String unit, Double percentOfLimit,
                       Double ratioToPeer, Double medianMs, String target, Boolean met, String note) {

    /** A row that could not be measured. */
    public static BenchRow missing(String workload, String backend, String unit, String target, String note) {
        return new BenchRow(workload, backend, null, unit, null, null, null, target, null, note);
    }

    public BenchRow withRatioToPeer(Double ratio, String target, Boolean met, String note) {
        return new BenchRow(workload, backend, value, unit, percentOfLimit, ratio, medianMs, target, met, note);
    }

    /** The JSON object of this row, keys in a fixed order, nulls kept. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workload", workload);
        m.put("backend", backend);
        m.put("value", round(value, 5));
        m.put("unit", unit);
        m.put("percent_of_limit", round(percentOfLimit, 4));
        m.put("ratio_to_peer", round(ratioToPeer, 4));
        m.put("median_ms", round(medianMs, 5));
        m.put("target", target);
        m.put("met", met);
        m.put("note", note);
        return m;
    }

    /** {@code digits} significant digits; non-finite becomes {@code null} (JSON has no NaN). */
    private static Double round(Double x, int digits) {
        if (x == null || !Double.isFinite(x)) return null;
        return new java.math.BigDecimal(x).round(new java.math.MathContext(digits)).doubleValue();
    }
}
