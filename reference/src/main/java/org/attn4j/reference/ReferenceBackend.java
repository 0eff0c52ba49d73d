package org.attn4j.reference;

import org.attn4j.api.AbstractAttentionBackend;
import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.DType;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Precision;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Support;
import org.attn4j.reference.mla.ReferenceMlaLayer;

/**
 * The float64 reference as a {@link AttentionBackend} named {@code reference}: it supports every feature of
 * every valid problem and every layer, computes in {@code double} on the caller's thread
 * ({@link PlanOptions#threads()} is ignored) and returns {@link org.attn4j.api.DoubleTensor}s.
 * Registered for {@link java.util.ServiceLoader} in {@code META-INF/services}.
 */
public final class ReferenceBackend extends AbstractAttentionBackend {
    public static final String NAME = "reference";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Precision precision() {
        return Precision.FLOAT64;
    }

    /** Every valid problem is supported: the reference implements all of FORMAT.md. */
    @Override
    protected Support supportOf(AttentionProblem problem) {
        return Support.ok();
    }

    /**
     * Every real storage type: the reference reads each element through {@link org.attn4j.api.Tensor#doubleAtStorage},
     * which is exact for float16, bfloat16 and int8 ({@code q * scale} in float64).
     */
    @Override
    public Support supportStorage(DType dtype) {
        AttentionException.require(dtype != null, "dtype", "a dtype", "null");
        if (dtype.isReal()) return Support.ok();
        return Support.no(dtype + ": not a type of attention inputs (use FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8)");
    }

    @Override
    protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
        return new Plan(problem, options.computeLse());
    }

    @Override
    protected LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options) {
        return new ReferenceStandardLayer(config, weights);
    }

    @Override
    protected LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
        // A public constructor (the oracle's own entry point, in another package): it validates the weights again.
        return new ReferenceMlaLayer(config, weights, options);
    }

    @Override
    public String toString() {
        return "ReferenceBackend[" + NAME + ", FLOAT64]";
    }

    /**
     * A plan holds nothing but the problem: {@link #run} is {@link ReferenceAttention#attend}. It still refuses to run
     * after {@link #close}, as the float32 backends' plans do, so code tested on the reference cannot lean on it.
     */
    private static final class Plan implements AttentionPlan {
        private final AttentionProblem problem;
        private final boolean computeLse;
        private volatile boolean closed;

        Plan(AttentionProblem problem, boolean computeLse) {
            this.problem = problem;
            this.computeLse = computeLse;
        }

        @Override
        public AttentionProblem problem() {
            return problem;
        }

        @Override
        public AttentionOutput run(AttentionInputs inputs) {
            if (closed) throw new AttentionException(NAME + ": the plan is closed (" + problem + ")");
            AttentionException.require(inputs != null, "inputs", "attention inputs", "null");
            AttentionOutput o = ReferenceAttention.attend(problem.spec(), inputs);
            return computeLse ? o : new AttentionOutput(o.out(), null);
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
