package org.attn4j.api;

/** The attention layer families compared by attn4j. */
public enum LayerVariant {
    /** multi-head: one KV head per query head */
    MHA,
    /** multi-query: one KV head shared by all query heads */
    MQA,
    /** grouped-query: {@code kvHeads} divides {@code qHeads} */
    GQA,
    /** multi-head latent attention (DeepSeek-V2/V3): a compressed latent KV cache */
    MLA
}
