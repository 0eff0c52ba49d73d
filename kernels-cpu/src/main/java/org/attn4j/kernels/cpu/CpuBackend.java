package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
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
import org.attn4j.api.Tensor;
import org.attn4j.api.TiledKvCache;

import java.util.ArrayList;
import java.util.List;

/**
 * Float32 attention on the CPU (backend {@code cpu}): FlashAttention-2 style tiles with an online softmax,
 * split-KV decode reading contiguous or paged caches in place, MHA/MQA/GQA layers and MLA on the absorbed
 * path, on the JDK Vector API when available ({@link CpuKernels}) and plain Java otherwise. Implements
 * every feature of FORMAT.md; {@link #support} declines only problems whose buffers would not fit Java arrays.
 *
 * <pre>{@code
 * AttentionBackend cpu = Backends.byName("cpu");
 * try (AttentionPlan plan = cpu.plan(AttentionProblem.of(AttentionSpec.builder(32, 8, 128).causal().build(), 1, 2048, 2048),
 *                                    PlanOptions.defaults())) {
 *     AttentionOutput o = plan.run(AttentionInputs.of(q, k, v));
 * }
 * }</pre>
 */
public final class CpuBackend implements AttentionBackend {
    public static final String NAME = "cpu";

    private final CpuKernelSupport kernels;
    private final CpuTuning tuning;

    /** The ServiceLoader constructor: this JVM's kernels ({@link CpuKernels#get()}), default tuning. */
    public CpuBackend() {
        this(CpuKernels.get(), CpuTuning.DEFAULT);
    }

    /** A backend on specific kernels and tuning (tests, benchmarks: scalar vs vector, split-KV settings). */
    public CpuBackend(CpuKernelSupport kernels, CpuTuning tuning) {
        AttentionException.require(kernels != null, "kernels", "a CpuKernelSupport", "null");
        AttentionException.require(tuning != null, "tuning", "a CpuTuning", "null");
        this.kernels = kernels;
        this.tuning = tuning;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Precision precision() {
        return Precision.FLOAT32;
    }

    public CpuKernelSupport kernels() {
        return kernels;
    }

    public CpuTuning tuning() {
        return tuning;
    }

    /** Every feature is supported; only outputs too large for one Java array are declined. */
    @Override
    public Support support(AttentionProblem problem) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        AttentionSpec s = problem.spec();
        List<String> reasons = new ArrayList<>();
        long out = (long) problem.batch() * s.qHeads() * problem.qLen() * s.vHeadDim();
        if (out > Tensor.MAX_ELEMENTS) {
            reasons.add("output of " + out + " floats exceeds one Java array (" + Tensor.MAX_ELEMENTS + ")");
        }
        return Support.of(reasons);
    }

    @Override
    public AttentionPlan plan(AttentionProblem problem, PlanOptions options) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        support(problem).orThrow(NAME, problem);
        return new CpuAttentionPlan(problem, options, kernels, tuning);
    }

    @Override
    public Support supportLayer(LayerConfig config) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        return Support.ok();
    }

    /** Weights are copied to private float32 arrays at plan time; the plan owns its threads until {@code close()}. */
    @Override
    public LayerPlan planLayer(LayerConfig config, LayerWeights weights, PlanOptions options) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        AttentionException.require(weights != null, "weights", "layer weights", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        supportLayer(config).orThrow(NAME, config);
        weights.validate(config); // also rejects weights of the other layer kind
        FlashEngine engine = new FlashEngine(kernels, tuning, new WorkerPool(options.threads()));
        return switch (config) {
            case StandardLayerConfig c -> new CpuStandardLayerPlan(c, (StandardLayerWeights) weights, engine);
            case MlaLayerConfig c -> new CpuMlaLayerPlan(c, (MlaLayerWeights) weights, engine, options.mlaPath());
        };
    }

    /**
     * A float32 {@link TiledKvCache} with tiles of {@link CpuTuning#kvTile()} tokens, which decode scores without
     * horizontal sums (see {@link FlashEngine}); a keys-only (latent) cache stays contiguous, since its values are
     * the key rows and must stay row-major.
     */
    @Override
    public KvCache newKvCache(int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        return newCache(tuning, sequences, kvHeads, maxLength, headDim, vHeadDim);
    }

    static KvCache newCache(CpuTuning tuning, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        return vHeadDim == 0
                ? new ContiguousKvCache(DType.FLOAT32, sequences, kvHeads, maxLength, headDim, 0)
                : new TiledKvCache(DType.FLOAT32, sequences, kvHeads, maxLength, headDim, vHeadDim, tuning.kvTile());
    }

    @Override
    public String toString() {
        return "CpuBackend[" + kernels.name() + "]";
    }
}
