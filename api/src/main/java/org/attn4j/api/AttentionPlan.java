package org.attn4j.api;

/**
 * A prepared attention computation. {@link #run} accepts any batch and lengths whose tensors match the
 * planned spec; the planned sizes only guide tiling. Plans are thread-safe.
 */
public interface AttentionPlan extends AutoCloseable {
    /** The problem this plan was made for. */
    AttentionProblem problem();

    /**
     * Runs attention. Validates {@code inputs} against the planned spec first and throws
     * {@link AttentionException} (writing nothing) when they do not fit.
     */
    AttentionOutput run(AttentionInputs inputs);

    /**
     * Attends {@code q} over everything a KV cache holds, bottom-right aligned per sequence (the queries are
     * the last tokens). {@code q} is {@code [B, qHeads, qLen, headDim]} with {@code B == cache.sequences()}.
     * A keys-only (MLA latent, {@code vHeadDim == 0}) cache is read in MLA's absorbed form: the values are the first
     * {@code spec.vHeadDim} columns of each key row ({@code spec.vHeadDim <= headDim}).
     * The default gathers the cache into dense K/V with {@code kv_lens}; backends override it to read pages in place.
     */
    default AttentionOutput decode(Tensor q, KvCache cache) {
        AttentionException.require(cache != null, "cache", "a KV cache", "null");
        AttentionSpec spec = problem().spec();
        if ((spec.causal() || spec.hasWindow()) && spec.alignment() != Alignment.BOTTOM_RIGHT) {
            throw AttentionException.invalid("spec.alignment", "BOTTOM_RIGHT for KV-cache decoding", spec.alignment());
        }
        if (cache.vHeadDim() == 0) {
            AttentionException.require(spec.vHeadDim() <= spec.headDim(), "spec.vHeadDim",
                    "<= headDim=" + spec.headDim() + " to read values from a keys-only (latent) cache", spec.vHeadDim());
            return run(cache.gatherKeysOnly(q, spec.vHeadDim()));
        }
        return run(cache.gather(q));
    }

    /** Releases what the plan holds (threads, device memory). Idempotent. */
    @Override
    default void close() {
    }
}
