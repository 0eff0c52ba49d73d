package org.attn4j.api;

/**
 * The result of a kernel call.
 *
 * @param out {@code [B, qHeads, qLen, vHeadDim]}; rows that see no key are 0
 * @param lse {@code [B, qHeads, qLen]}, the natural log of each row's softmax denominator (with the sink);
 *            {@code -inf} for rows that see no key and have no sink; {@code null} when not computed
 */
public record AttentionOutput(Tensor out, Tensor lse) {
    public AttentionOutput {
        AttentionException.require(out != null, "out", "a tensor", "null");
    }
}
