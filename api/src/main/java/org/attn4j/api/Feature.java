package org.attn4j.api;

/**
 * The capabilities an {@link AttentionProblem} needs, as {@link AttentionProblem#features()} reads them off its spec
 * and inputs; backends decline features by name in {@link Support}, and the conformance suite reports results per
 * feature. Only what a problem can carry is here: a KV cache (a {@link AttentionPlan#decode} call), a layer or MLA
 * ({@link AttentionBackend#supportLayer}), the LSE ({@link PlanOptions#computeLse()}) and float64 inputs
 * ({@link AttentionBackend#precisionFor}) are asked about where they are chosen.
 */
public enum Feature {
    GROUPED_HEADS, CAUSAL, TOP_LEFT, WINDOW, SOFTCAP, CUSTOM_SCALE, V_HEAD_DIM, BIAS, MASK, ALIBI, SINKS, KV_LENS,
    SCORE_MOD, MASK_MOD, EMPTY
}
