package org.attn4j.api;

/** A whole attention layer (projections, attention, output projection), FORMAT.md "kind = layer". */
public sealed interface LayerConfig permits StandardLayerConfig, MlaLayerConfig {
    LayerVariant variant();

    /** Model width. */
    int hidden();

    int qHeads();

    /** The attention the layer performs between its projections. */
    AttentionSpec attentionSpec();
}
