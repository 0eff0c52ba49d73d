package org.attn4j.api;

/** A whole attention layer (projections, attention, output projection), FORMAT.md "kind = layer". */
public sealed interface LayerConfig permits StandardLayerConfig, MlaLayerConfig {
    LayerVariant variant();

    /** Model width. */
    int hidden();

    int qHeads();

    /** The attention the layer performs between its projections. */
    AttentionSpec attentionSpec();

    /**
     * The check every layer plan runs on its activations before computing or appending anything: {@code t} must
     * be a finite float tensor {@code [batch, L, hidden()]}; {@code batch < 0} accepts any batch {@code >= 1}.
     *
     * @param name the argument's name in the error ({@code x}, {@code kvX})
     * @throws AttentionException naming {@code name} (or {@code name.rank}, {@code name.shape[0]}, ...)
     */
    default void requireActivations(String name, Tensor t, int batch) {
        int hidden = hidden();
        AttentionException.require(t != null, name, "a tensor [B, L, " + hidden + "]", "null");
        AttentionException.require(t.dtype().isFloating(), name + ".dtype", "FLOAT32 or FLOAT64", t.dtype());
        AttentionException.require(t.rank() == 3, name + ".rank", 3, t.rank() + " (shape " + java.util.Arrays.toString(t.shape()) + ")");
        if (batch < 0) {
            AttentionException.require(t.size(0) >= 1, name + ".shape[0]", "batch >= 1", t.size(0));
        } else {
            AttentionException.require(t.size(0) == batch, name + ".shape[0]", "batch " + batch, t.size(0));
        }
        AttentionException.require(t.size(2) == hidden, name + ".shape[2]", "hidden " + hidden, t.size(2));
        Tensors.requireFinite(name, t);
    }

    /**
     * The KV cache a {@link LayerPlan#step} reads and appends to: K and V per KV head of width {@code headDim}
     * (MHA/MQA/GQA), or one latent "head" {@code [c_kv | k_pe]} of width {@code kv_lora_rank + rope} and no values (MLA).
     */
    default KvCacheSpec cacheSpec(DType dtype, int batch, int maxLength) {
        return switch (this) {
            case StandardLayerConfig c -> new KvCacheSpec(dtype, batch, c.kvHeads(), maxLength, c.headDim(), c.headDim());
            case MlaLayerConfig c -> new KvCacheSpec(dtype, batch, 1, maxLength, c.latentWidth(), 0);
        };
    }

    /**
     * The check every layer's {@link LayerPlan#step} runs before projecting or appending anything: {@code x} is a
     * chunk {@code [cache.sequences(), n, hidden]} ({@link #requireActivations}), {@code cache} has this layer's
     * {@link #cacheSpec geometry}, a causal or windowed layer is bottom-right aligned (the chunk's queries are the
     * last tokens of each sequence), and the {@code n} tokens fit ({@link KvCache#requireRoom}).
     */
    default void requireStep(Tensor x, KvCache cache) {
        AttentionException.require(cache != null, "cache", "a KV cache", "null");
        requireActivations("x", x, cache.sequences());
        KvCacheSpec want = cacheSpec(cache.dtype(), cache.sequences(), cache.maxLength());
        boolean latent = want.keysOnly();
        AttentionException.require(cache.kvHeads() == want.kvHeads(), "cache.kvHeads",
                latent ? "1 (one latent per token)" : want.kvHeads(), cache.kvHeads());
        AttentionException.require(cache.headDim() == want.headDim(), "cache.headDim",
                latent ? "kv_lora_rank + rope = " + want.headDim() : want.headDim(), cache.headDim());
        AttentionException.require(cache.vHeadDim() == want.vHeadDim(), "cache.vHeadDim",
                latent ? "0 (a keys-only latent cache)" : want.vHeadDim(), cache.vHeadDim());
        AttentionSpec spec = attentionSpec();
        if ((spec.causal() || spec.hasWindow()) && spec.alignment() != Alignment.BOTTOM_RIGHT) {
            throw AttentionException.invalid("config.alignment", "BOTTOM_RIGHT for KV-cache steps", spec.alignment());
        }
        cache.requireRoom("x.shape[1]", x.size(1));
    }
}
