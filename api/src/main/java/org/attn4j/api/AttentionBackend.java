package org.attn4j.api;

import java.util.Optional;

/**
 * An implementation of attention, found by {@link java.util.ServiceLoader} (register the class in
 * {@code META-INF/services/org.attn4j.api.AttentionBackend}). {@link Backends} lists and selects them.
 *
 * <p>The plan/run split follows FlashInfer: {@link #plan} validates and prepares once (tiling, threads,
 * compiled programs), the returned {@link AttentionPlan} runs many times. {@link #support} never throws
 * for an unsupported feature; it returns the reasons (as xFormers' {@code not_supported_reasons}).
 */
public interface AttentionBackend {
    /** Short unique name, e.g. {@code reference}, {@code cpu}, {@code opencl}. */
    String name();

    /** The arithmetic of this backend; outputs have {@link Precision#dtype()} (but see {@link #hasFloat64Path()}). */
    Precision precision();

    /**
     * Whether this backend, although its {@link #precision()} is FLOAT32, computes in float64 and returns FLOAT64
     * outputs when {@code q}, {@code k} and {@code v} (or a layer's weights) are all FLOAT64 tensors, e.g. an OpenCL
     * device with {@code cl_khr_fp64}. Such outputs are held to the float64 tolerance.
     */
    default boolean hasFloat64Path() {
        return false;
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

    /** A contiguous KV cache in this backend's precision. */
    default KvCache newKvCache(int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        return new ContiguousKvCache(precision().dtype(), sequences, kvHeads, maxLength, headDim, vHeadDim);
    }
}
