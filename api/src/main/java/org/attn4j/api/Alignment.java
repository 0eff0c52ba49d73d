package org.attn4j.api;

/**
 * Where the causal diagonal sits when {@code q_len != kv_len} (FORMAT.md "Visibility").
 * {@link #BOTTOM_RIGHT}: query {@code i} is at key position {@code i + (kv_len - q_len)}, as in decoding;
 * {@link #TOP_LEFT}: query {@code i} is at key position {@code i}.
 */
public enum Alignment {
    BOTTOM_RIGHT, TOP_LEFT;

    /** The diagonal {@code d_i} of query {@code i} for {@code qLen} queries over {@code kvLen} visible keys. */
    public int diagonal(int i, int qLen, int kvLen) {
        return this == BOTTOM_RIGHT ? i + (kvLen - qLen) : i;
    }
}
