package org.attn4j.api;

/**
 * A FlexAttention-style {@code mask_mod}: one more visibility rule of FORMAT.md's step 4, AND-ed with causal,
 * window, mask and {@code kv_lens}. Must be pure and thread-safe.
 */
@FunctionalInterface
public interface MaskMod {
    /** Whether query {@code i} of head {@code h} in sequence {@code b} may attend to key {@code j}. */
    boolean visible(int b, int h, int i, int j);
}
