package org.attn4j.api;

import java.util.OptionalDouble;

/**
 * An MHA / MQA / GQA layer: {@code y = merge(attend(split(x Wq^T + bq), split(kv_x Wk^T + bk), split(kv_x Wv^T + bv))) Wo^T + bo}.
 *
 * @param variant   MHA ({@code kvHeads == qHeads}), MQA ({@code kvHeads == 1}) or GQA (any divisor)
 * @param hidden    model width
 * @param bias      whether {@code bq bk bv bo} are present
 */
public record StandardLayerConfig(LayerVariant variant, int hidden, int qHeads, int kvHeads, int headDim, boolean bias,
                                  boolean causal, Alignment alignment, Window window, double softcap,
                                  OptionalDouble scale) implements LayerConfig {

    public StandardLayerConfig {
        AttentionException.require(variant != null && variant != LayerVariant.MLA, "variant", "MHA, MQA or GQA", variant);
        AttentionException.require(hidden >= 1, "hidden", ">= 1", hidden);
        AttentionException.require(qHeads >= 1, "qHeads", ">= 1", qHeads);
        AttentionException.require(kvHeads >= 1 && qHeads % kvHeads == 0, "kvHeads", "a divisor of qHeads=" + qHeads, kvHeads);
        switch (variant) {
            case MHA -> AttentionException.require(kvHeads == qHeads, "kvHeads", "qHeads=" + qHeads + " for MHA", kvHeads);
            case MQA -> AttentionException.require(kvHeads == 1, "kvHeads", "1 for MQA", kvHeads);
            default -> { }
        }
        if (alignment == null) alignment = Alignment.BOTTOM_RIGHT;
        if (window == null) window = Window.NONE;
        if (scale == null) scale = OptionalDouble.empty();
        attentionSpec(qHeads, kvHeads, headDim, causal, alignment, window, softcap, scale); // validates the rest
    }

    /** A plain layer: no biases, no mask options. */
    public static StandardLayerConfig of(LayerVariant variant, int hidden, int qHeads, int kvHeads, int headDim) {
        return new StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, false, false, Alignment.BOTTOM_RIGHT,
                Window.NONE, 0, OptionalDouble.empty());
    }

    /** The same layer with these causal settings. */
    public StandardLayerConfig withCausal(boolean causal) {
        return new StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, bias, causal, alignment, window, softcap, scale);
    }

    public StandardLayerConfig withBias(boolean bias) {
        return new StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, bias, causal, alignment, window, softcap, scale);
    }

    @Override
    public AttentionSpec attentionSpec() {
        return attentionSpec(qHeads, kvHeads, headDim, causal, alignment, window, softcap, scale);
    }

    private static AttentionSpec attentionSpec(int qHeads, int kvHeads, int headDim, boolean causal, Alignment alignment,
                                               Window window, double softcap, OptionalDouble scale) {
        AttentionSpec.Builder b = AttentionSpec.builder(qHeads, kvHeads, headDim).causal(causal).alignment(alignment)
                .window(window).softcap(softcap);
        scale.ifPresent(b::scale);
        return b.build();
    }
}
