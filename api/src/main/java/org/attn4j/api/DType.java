package org.attn4j.api;

/** Element types a {@link Tensor} may hold. */
public enum DType {
    FLOAT32(4), FLOAT64(8), BOOL(1), INT32(4);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean isFloating() {
        return this == FLOAT32 || this == FLOAT64;
    }
}
