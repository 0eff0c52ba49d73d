package org.attn4j.cli.compare;

import org.attn4j.api.LayerVariant;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the decode rows say about each other. Decode at batch 1 is memory-bound for MHA, MQA and GQA: a variant that
 * reads several times fewer cache bytes should decode faster. When a measurement says otherwise it is flagged, never
 * silently shown: either the measurement is off, or the kernel is not bandwidth-bound (absorbed MLA does far more FLOPs
 * per byte), and the reader should know which.
 */
public final class DecodeFindings {
    /** A variant reading at least this many times fewer bytes is expected to decode faster. */
    public static final double BYTES_RATIO = 2.0;

    private DecodeFindings() {
    }

    /**
     * A decode ordering that contradicts the bytes read on one backend.
     *
     * @param fewerBytes the config that reads at least {@link #BYTES_RATIO}x fewer bytes ...
     * @param moreBytes  ... than this one, yet decoded slower
     */
    public record Contradiction(String backend, String fewerBytes, String moreBytes, double bytesRatio, double flopsRatio,
                                double fewerBytesMillis, double moreBytesMillis) {
        public String message() {
            return String.format(Locale.ROOT, "FLAG: on %s, %s reads %.1fx fewer KV bytes per decode step than %s but decoded slower "
                            + "(%.3g ms vs %.3g ms)%s", backend, fewerBytes, bytesRatio, moreBytes, fewerBytesMillis, moreBytesMillis,
                    flopsRatio > 1.5 ? String.format(Locale.ROOT, "; it does %.1fx the FLOPs, so it may be compute-bound here", flopsRatio)
                            : "; same FLOPs or fewer, so the kernel or the measurement is off");
        }
    }

    /** The first MHA row: the baseline of the speed-up column; {@code null} if the comparison has none. */
    public static VariantRow mhaRow(ComparisonResult r) {
        for (VariantRow row : r.rows()) if (row.cost().variant() == LayerVariant.MHA) return row;
        return null;
    }

    /** MHA's decode time over {@code row}'s on {@code backend}, both measured in this run; {@code null} if either is missing. */
    public static Double speedUpOverMha(ComparisonResult r, VariantRow row, String backend) {
        VariantRow mha = mhaRow(r);
        if (mha == null) return null;
        Speed.Timed base = mha.timed(Phase.DECODE, backend);
        Speed.Timed t = row.timed(Phase.DECODE, backend);
        return base == null || t == null ? null : base.millis() / t.millis();
    }

    /** Every pair whose measured decode order contradicts the bytes read, per backend, in row order. */
    public static List<Contradiction> contradictions(ComparisonResult r) {
        List<Contradiction> out = new ArrayList<>();
        for (String backend : r.measuredBackends()) {
            for (VariantRow few : r.rows()) {
                Speed.Timed fewT = few.timed(Phase.DECODE, backend);
                if (fewT == null) continue;
                for (VariantRow many : r.rows()) {
                    Speed.Timed manyT = many.timed(Phase.DECODE, backend);
                    if (many == few || manyT == null) continue;
                    double ratio = many.decodeBytesRead() / few.decodeBytesRead();
                    if (ratio >= BYTES_RATIO && fewT.millis() > manyT.millis()) {
                        double flops = few.shape(Phase.DECODE).workload().flops() / many.shape(Phase.DECODE).workload().flops();
                        out.add(new Contradiction(backend, few.model().getName(), many.model().getName(), ratio, flops,
                                fewT.millis(), manyT.millis()));
                    }
                }
            }
        }
        return out;
    }

    /** The flag cell of {@code row}'s decode on {@code backend}: empty, or which slower-despite-fewer-bytes pairs it is in. */
    public static String flag(ComparisonResult r, VariantRow row, String backend) {
        List<String> slowerThan = new ArrayList<>();
        for (Contradiction c : contradictions(r)) {
            if (c.backend().equals(backend) && c.fewerBytes().equals(row.model().getName())) slowerThan.add(c.moreBytes());
        }
        return slowerThan.isEmpty() ? "" : "FLAG: slower than " + String.join(", ", slowerThan) + " (reads fewer bytes)";
    }
}
