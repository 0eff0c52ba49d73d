package org.attn4j.api;

/**
 * The capabilities a problem needs; backends decline features by name in {@link Support}, and the
 * conformance suite reports results per feature.
 */
public enum Feature {
    GROUPED_HEADS, CAUSAL, TOP_LEFT, WINDOW, SOFTCAP, CUSTOM_SCALE, V_HEAD_DIM, BIAS, MASK, ALIBI, SINKS, KV_LENS,
    SCORE_MOD, MASK_MOD, LSE, EMPTY, KV_CACHE, PAGED_KV_CACHE, LAYER, MLA, FLOAT64
}
