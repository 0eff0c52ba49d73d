package org.attn4j.api;

/** Projection weights of a layer, in PyTorch {@code nn.Linear} layout ({@code [out_features, in_features]}). */
public sealed interface LayerWeights permits StandardLayerWeights, MlaLayerWeights {
    /** Checks every shape against {@code config}; throws {@link AttentionException} naming the weight. */
    void validate(LayerConfig config);
}
