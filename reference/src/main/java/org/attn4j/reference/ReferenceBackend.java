package org.attn4j.reference;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.LayerConfig;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.LayerWeights;
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
public final class ReferenceBackend implements AttentionBackend {
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
    public Support support(AttentionProblem problem) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        return Support.ok();
    }

    @Override
    public AttentionPlan plan(AttentionProblem problem, PlanOptions options) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        support(problem).orThrow(NAME, problem);
        return new Plan(problem, options.computeLse());
    }

    @Override
    public Support supportLayer(LayerConfig config) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        return Support.ok();
    }

    @Override
    public LayerPlan planLayer(LayerConfig config, LayerWeights weights, PlanOptions options) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        AttentionException.require(weights != null, "weights", "layer weights", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        supportLayer(config).orThrow(NAME, config);
        weights.validate(config); // also rejects weights of the other layer kind
        return switch (config) {
            case StandardLayerConfig c -> new ReferenceStandardLayer(c, (StandardLayerWeights) weights, options);
            case MlaLayerConfig c -> new ReferenceMlaLayer(c, (MlaLayerWeights) weights, options);
        };
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
