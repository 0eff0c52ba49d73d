package org.attn4j.api;

/**
 * A FlexAttention-style {@code score_mod}: rewrites one score at the end of FORMAT.md's step 3 (after scale,
 * softcap, bias and ALiBi, before visibility). Must be pure, thread-safe and return a finite value for finite
 * input (a backend may call it from several threads, in any order). To hide a key use a {@link MaskMod}.
 */
@FunctionalInterface
public interface ScoreMod {
    /**
     * @param score the score after steps 1-3
     * @param b     batch index
     * @param h     query head
     * @param i     query index
     * @param j     key index
     */
    double apply(double score, int b, int h, int i, int j);
}
