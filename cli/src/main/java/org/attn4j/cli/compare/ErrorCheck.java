package org.attn4j.cli.compare;

import java.util.Locale;

/** A backend's largest error against the float64 reference on a small random problem, or why it was not measured. */
public sealed interface ErrorCheck {
    /** FORMAT.md's float32 tolerance: {@code |actual - expected| <= ATOL + RTOL·|expected|}. */
    double ATOL = 1e-5;
    double RTOL = 1e-4;

    String backend();

    /**
     * @param what        the problems compared
     * @param maxAbsError largest {@code |actual - expected|} (NaN when the backend produced a NaN)
     * @param worstExcess largest {@code |actual - expected| - (ATOL + RTOL·|expected|)}: {@code <= 0} means within tolerance
     * @param elements    output elements compared
     */
    record Measured(String backend, String what, double maxAbsError, double worstExcess, long elements) implements ErrorCheck {
        public boolean withinTolerance() {
            return worstExcess <= 0; // false for NaN too
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s on %s: max |error| %.1e, %s", what, backend, maxAbsError,
                    withinTolerance() ? "within tolerance" : "OUTSIDE tolerance");
        }
    }

    /** Not measured: the backend declines the problem, or failed. */
    record NotMeasured(String backend, String reason) implements ErrorCheck {
    }
}
