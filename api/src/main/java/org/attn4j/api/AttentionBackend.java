package org.attn4j.api;

import java.util.Optional;

/**
 * An implementation of attention, found by {@link java.util.ServiceLoader} (register the class in
 * {@code META-INF/services/org.attn4j.api.AttentionBackend}). {@link Backends} lists and selects them.
 *
 * <p>The plan/run split follows FlashInfer: {@link #plan} validates and prepares once (tiling, threads,
 * compiled programs), the returned {@link AttentionPlan} runs many times. {@link #support} never throws
 * for an unsupported feature; it returns the reasons (as xFormers' {@code not_supported_reasons}).
 *
 * <h2>Numeric range</h2>
 * A backend never returns a silently wrong answer at the edge of its arithmetic. For finite inputs, every
 * {@code out}/{@code lse} element whose float64 value is finite must come out finite and within the tolerance
 * (FORMAT.md), or the call throws an {@link AttentionException} that names the input out of range (q, k, v, bias,
 * alibi slopes, a layer's x and weights) and the bound it breaks; NaN or an infinity where the exact value is finite
 * is a bug. {@link #maxInputMagnitude()} is the largest input magnitude a backend reads at all. Inside it, a float32
 * backend may still overflow on scores ({@code scale * |q| * |k| * headDim}) or value sums ({@code kvLen * |v|});
 * rather than checking those loose bounds up front (a pass over the KV cache per decode step), the float32 backends
 * check their result, one scan of the output, and only on a non-finite result compute the bounds to name the input
 * ({@link Float32Range}). A rejected call writes nothing: a layer step leaves its KV cache as it was. The
 * conformance suite probes this with extreme magnitudes ({@code kernel/input-range}).
 */
public interface AttentionBackend {
    /** Short unique name, e.g. {@code reference}, {@code cpu}, {@code opencl}. */
    String name();

    /**
     * This backend's own arithmetic: what it computes in for float32 inputs, and the dtype of its KV caches
     * ({@link #newKvCache}). For other inputs see {@link #precisionFor}.
     */
    Precision precision();

    /**
     * The arithmetic of a call whose floating inputs ({@code q}, {@code k} and {@code v} of a kernel call, q and the
     * cache of a decode, all weights of a layer) are all of dtype {@code inputs}; the outputs have its
     * {@link Precision#dtype()} and are held to its tolerance. By default {@link #precision()} whatever the inputs; a
     * float32 backend that computes float64 inputs in double (an OpenCL device with {@code cl_khr_fp64}) answers
     * {@link Precision#FLOAT64} for {@link DType#FLOAT64}. Mixed inputs run in {@link #precision()}.
     */
    default Precision precisionFor(DType inputs) {
        return precision();
    }

    /**
     * Where {@link Backends#select} tries this backend: higher first. By convention a backend on a dedicated device
     * (a GPU) takes 30, the CPU kernels 20, an OpenCL device that is itself the CPU 10, the float64 reference 0 (exact
     * but slow: chosen when nothing faster supports a problem).
     */
    default int priority() {
        return 0;
    }

    /**
     * The largest {@code |x|} of an input element this backend reads: {@link Float32Range#MAX} for a float32
     * backend (a float64 input beyond it is rejected with an {@link AttentionException}, never rounded to an
     * infinity; a backend whose {@link #precisionFor precisionFor(FLOAT64)} is FLOAT64 accepts more when all of q, k and v are float64),
     * {@link Double#MAX_VALUE} for a float64 one. Within it, see "Numeric range" above.
     */
    default double maxInputMagnitude() {
        return precision() == Precision.FLOAT32 ? Float32Range.MAX : Double.MAX_VALUE;
    }

    /** Why this backend cannot run on this machine (no device, no native library), or empty. */
    default Optional<String> unavailableReason() {
        return Optional.empty();
    }

    default boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    /** Whether this backend can run {@code problem}, or every reason why not. */
    Support support(AttentionProblem problem);

    /** Prepares a reusable, thread-safe plan. Throws {@link AttentionException} with the reasons if unsupported. */
    AttentionPlan plan(AttentionProblem problem, PlanOptions options);

    /** Whether this backend can run a whole layer of this configuration, or why not. */
    Support supportLayer(LayerConfig config);

    /** Prepares a layer with its weights. Throws {@link AttentionException} if unsupported or weights are malformed. */
    LayerPlan planLayer(LayerConfig config, LayerWeights weights, PlanOptions options);

    /**
     * The sizes at which this backend's kernels change path (tiles, split-KV threshold, vector widths, cache pages),
     * for conformance tests to probe at and around; {@link PathSizes#NONE} by default (tests then use generic sizes).
     * Never affects results.
     */
    default PathSizes pathSizes() {
        return PathSizes.NONE;
    }

    /**
     * Whether this backend reads {@code q}/{@code k}/{@code v} tensors and KV caches stored as {@code dtype}, or why
     * not. float32 and float64 are read by every backend; the reduced types ({@link DType#isReduced()}) only by a
     * backend that says so here: by default they are declined, so that a backend written before them is never handed
     * a tensor it would misread. A declined type makes {@link AttentionPlan#run}/{@link AttentionPlan#decode} throw.
     * Computing stays in {@link #precision()}; a reduced type only changes how many bytes are read.
     */
    default Support supportStorage(DType dtype) {
        AttentionException.require(dtype != null, "dtype", "a dtype", "null");
        if (dtype.isFloating()) return Support.ok();
        if (dtype.isReduced()) return Support.no(dtype + ": storage type not declared by backend '" + name() + "'");
        return Support.no(dtype + ": not a type of attention inputs (use FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8)");
    }

    /** A contiguous KV cache of this geometry and storage type; throws when {@link #supportStorage} declines the type. */
    default KvCache newKvCache(KvCacheSpec spec) {
        AttentionException.require(spec != null, "spec", "a KV-cache spec", "null");
        supportStorage(spec.dtype()).orThrow(name(), "a " + spec.dtype() + " KV cache");
        return new ContiguousKvCache(spec);
    }

    /** A contiguous KV cache in this backend's precision. */
    default KvCache newKvCache(int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        return new ContiguousKvCache(precision().dtype(), sequences, kvHeads, maxLength, headDim, vHeadDim);
    }
}
