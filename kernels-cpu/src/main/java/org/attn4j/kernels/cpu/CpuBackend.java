package org.attn4j.kernels.cpu;

import org.attn4j.api.AbstractAttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
import org.attn4j.api.KvCacheSpec;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PathSizes;
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
public final class CpuBackend extends AbstractAttentionBackend {
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

    /** Where {@link org.attn4j.api.Backends#select} tries it: after a GPU, before an OpenCL CPU device and the reference. */
    @Override
    public int priority() {
        return 20;
    }

    /** Every feature is supported; only outputs too large for one Java array are declined. */
    @Override
    protected Support supportOf(AttentionProblem problem) {
        AttentionSpec s = problem.spec();
        List<String> reasons = new ArrayList<>();
        long out = (long) problem.batch() * s.qHeads() * problem.qLen() * s.vHeadDim();
        if (out > Tensor.MAX_ELEMENTS) {
            reasons.add("output of " + out + " floats exceeds one Java array (" + Tensor.MAX_ELEMENTS + ")");
        }
        return Support.of(reasons);
    }

    /**
     * float32, float64 and the reduced types: float16, bfloat16 and int8 q/k/v tensors and caches (contiguous, paged)
     * are read in place and converted inside the kernels' loops; compute stays float32.
     */
    @Override
    public Support supportStorage(DType dtype) {
        AttentionException.require(dtype != null, "dtype", "a dtype", "null");
        if (dtype.isReal()) return Support.ok();
        return super.supportStorage(dtype); // the reason for a type that is no attention input
    }

    /**
     * A float16 or bfloat16 cache with K and V is a {@link TiledKvCache} of that type (keys transposed per tile, scored
     * by broadcasting queries, as the float32 one); int8 and keys-only caches are {@link ContiguousKvCache}s (int8
     * rows carry a scale per row, which a transposed tile cannot keep); float32 and float64 as the api's default.
     */
    @Override
    public KvCache newKvCache(KvCacheSpec spec) {
        AttentionException.require(spec != null, "spec", "a KV-cache spec", "null");
        DType t = spec.dtype();
        if ((t == DType.FLOAT16 || t == DType.BFLOAT16) && spec.vHeadDim() > 0) {
            return new TiledKvCache(t, spec.sequences(), spec.kvHeads(), spec.maxLength(), spec.headDim(), spec.vHeadDim(),
                    tuning.kvTile());
        }
        return super.newKvCache(spec);
    }

    @Override
    protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
        return new CpuAttentionPlan(problem, options, kernels, tuning);
    }

    /** Weights are copied to private float32 arrays at plan time; the plan owns its threads until {@code close()}. */
    @Override
    protected LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options) {
        return new CpuStandardLayerPlan(config, weights, newEngine(options));
    }

    @Override
    protected LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
        return new CpuMlaLayerPlan(config, weights, newEngine(options), options.mlaPath());
    }

    private FlashEngine newEngine(PlanOptions options) {
        return new FlashEngine(kernels, tuning, new WorkerPool(options.threads()));
    }

    /**
     * Where the engine changes path (see {@link CpuTuning} and {@link FlashEngine}): a KV tile, and twice that for a
     * prefill with packed keys of {@code headDim <= 64}; a query tile of {@code queryRows} rows and packing from
     * {@code transposeRows} rows of a KV group; split-KV from two minimal splits of keys; the kernels' vector lanes
     * and their 4-lane blocks; the tile of this backend's caches.
     */
    @Override
    public PathSizes pathSizes() {
        int lanes = kernels.lanes();
        return new PathSizes(List.of(tuning.kvTile(), 2 * tuning.kvTile()),
                List.of(tuning.queryRows(), tuning.transposeRows()),
                List.of(2 * tuning.minSplitKeys()),
                List.of(lanes, 4 * lanes),
                List.of(tuning.kvTile()));
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
