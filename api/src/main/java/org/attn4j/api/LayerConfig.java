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
}
