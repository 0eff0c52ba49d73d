package org.attn4j.cli.compare;

import java.util.ArrayList;
import java.util.List;

/** The whole comparison. */
public record ComparisonResult(String title, CompareSettings settings, List<BackendStatus> backends, List<VariantRow> rows,
                               String environment, long millis) {
    public ComparisonResult {
        backends = List.copyOf(backends);
        rows = List.copyOf(rows);
    }

    /** Names of the measured backends, in discovery order. */
    public List<String> measuredBackends() {
        List<String> out = new ArrayList<>();
        for (BackendStatus s : backends) if (s.measured()) out.add(s.name());
        return out;
    }

    /** Whether some backend's error is outside FORMAT.md's tolerance. */
    public boolean anyErrorOutsideTolerance() {
        for (VariantRow r : rows) {
            for (ErrorCheck e : r.errors()) if (e instanceof ErrorCheck.Measured m && !m.withinTolerance()) return true;
        }
        return false;
    }
}
