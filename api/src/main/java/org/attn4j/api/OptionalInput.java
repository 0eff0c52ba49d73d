package org.attn4j.api;

/** The optional tensors of a kernel call (FORMAT.md, "kind = kernel" inputs). */
public enum OptionalInput {
    /** additive float bias, broadcastable to {@code [B, qHeads, qLen, kvLen]} */
    BIAS,
    /** bool mask, {@code true} = may attend, broadcastable to {@code [B, qHeads, qLen, kvLen]} */
    MASK,
    /** per-query-head ALiBi slopes {@code [qHeads]} */
    ALIBI_SLOPES,
    /** per-query-head learned sink logits {@code [qHeads]} */
    SINKS,
    /** per-sequence valid key counts {@code [B]} */
    KV_LENS,
    /** a {@link ScoreMod} lambda */
    SCORE_MOD,
    /** a {@link MaskMod} lambda */
    MASK_MOD
}
