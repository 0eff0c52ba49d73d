package org.attn4j.cli.run;

import org.attn4j.conformance.agreement.Agreement;
import org.attn4j.conformance.agreement.CheckOutcome;
import org.attn4j.conformance.agreement.GoldenCheck;
import org.attn4j.conformance.agreement.NotRun;
import org.attn4j.conformance.agreement.ReferenceChecks;
import org.attn4j.conformance.golden.CaseResult;
import org.attn4j.conformance.golden.Tolerance;
import org.attn4j.dsl.check.DecodingCheck;
import org.attn4j.dsl.check.ExpectationChecker;
import org.attn4j.dsl.check.KernelCheck;
import org.attn4j.dsl.check.LayerCheck;
import org.attn4j.dsl.check.ToleranceOverride;
import org.attn4j.dsl.script.ExpectationOutcome;
import org.attn4j.dsl.script.Status;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The scripts' reference and golden expectations, run by the conformance module (its agreement checks, its
 * {@link Tolerance} and golden runner): the glue between the language, which may not depend on conformance, and
 * conformance, which may not depend on the language.
 */
public final class ConformanceChecker implements ExpectationChecker {
    public static final ConformanceChecker INSTANCE = new ConformanceChecker();

    private ConformanceChecker() {
    }

    @Override
    public ExpectationOutcome kernel(KernelCheck c) {
        return outcome(ReferenceChecks.INSTANCE.kernel(c.getSpec(), c.getBackend(), c.getBatch(), c.getQLen(), c.getKvLen(),
                c.getKvLens(), c.getMask(), c.getSeed(), tolerance(c.getTolerance()), c.getScoreMod(), c.getMaskMod()));
    }

    @Override
    public ExpectationOutcome layer(LayerCheck c) {
        return outcome(ReferenceChecks.INSTANCE.layer(c.getConfig(), c.getBackend(), c.getBatch(), c.getQLen(),
                c.getMemoryLen(), c.getKeepLens(), c.getSeed(), tolerance(c.getTolerance())));
    }

    @Override
    public ExpectationOutcome decoding(DecodingCheck c) {
        return outcome(ReferenceChecks.INSTANCE.decoding(c.getConfig(), c.getBackend(), c.getBatch(), c.getChunks(),
                c.getSeed(), tolerance(c.getTolerance())));
    }

    @Override
    public ExpectationOutcome golden(Path caseDir, String backend) {
        return outcome(ReferenceChecks.INSTANCE.golden(caseDir, backend));
    }

    /** FORMAT.md's default, with what the script overrides. */
    static Tolerance tolerance(ToleranceOverride override) {
        if (override == null) return Tolerance.DEFAULT;
        return new Tolerance(override.getAtol() != null ? override.getAtol() : Tolerance.DEFAULT.getAtol(),
                override.getRtol() != null ? override.getRtol() : Tolerance.DEFAULT.getRtol());
    }

    static ExpectationOutcome outcome(CheckOutcome o) {
        if (o instanceof Agreement a) {
            String measured = String.format(Locale.ROOT, "max |error| %.2e over %d values (%s)", a.getMaxAbsError(),
                    a.getElements(), a.getTolerance());
            return a.getWithinTolerance()
                    ? new ExpectationOutcome(Status.PASSED, measured, ran(a.getWhat(), a.getBackend()))
                    : new ExpectationOutcome(Status.FAILED, measured + ": OUTSIDE tolerance, first at " + a.getFirstFailure(),
                            ran(a.getWhat(), a.getBackend()));
        }
        if (o instanceof NotRun n) {
            return new ExpectationOutcome(Status.NOT_RUN, String.join("; ", n.getReasons()), ran(n.getWhat(), n.getBackend()));
        }
        if (o instanceof GoldenCheck g) {
            CaseResult r = g.getResult();
            String error = Double.isNaN(r.getMaxError()) ? null : String.format(Locale.ROOT, "max |error| %.2e", r.getMaxError());
            String detail = error == null ? nullToEmpty(r.getMessage())
                    : r.getMessage() == null ? error : error + "; " + r.getMessage();
            String what = ran(g.getWhat(), g.getBackend());
            return switch (r.getStatus()) {
                case PASSED -> new ExpectationOutcome(Status.PASSED, detail, what);
                case SKIPPED -> new ExpectationOutcome(Status.NOT_RUN, detail, what);
                default -> new ExpectationOutcome(Status.FAILED, r.getStatus() + ": " + detail, what);
            };
        }
        throw new IllegalStateException("unknown check outcome " + o.getClass().getName());
    }

    private static String ran(String what, String backend) {
        return what + " on " + backend;
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}
