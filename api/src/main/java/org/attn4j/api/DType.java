package org.attn4j.api;

/**
 * Element types a {@link Tensor} may hold.
 *
 * <p>Besides float32 and float64, tensors and KV caches may be stored in the reduced types real KV caches use
 * (FlashAttention's fp16/bf16, vLLM's and llama.cpp's 8-bit caches): {@link #FLOAT16} and {@link #BFLOAT16} (one
 * value per element, {@link HalfTensor}) and {@link #INT8} (one byte per element and one float32 scale per row of the
 * last axis, i.e. per token and KV head: {@link Int8Tensor}). Every value of these types is exact in float32 and
 * float64, except an int8's product with its scale, which is exact in float64 only. How float values are stored in
 * them (rounding, quantization) is fixed in {@link Quantization}.
 */
public enum DType {
    FLOAT32(4), FLOAT64(8), BOOL(1), INT32(4),
    /** IEEE 754 binary16. */
    FLOAT16(2),
    /** bfloat16: the upper 16 bits of a float32. */
    BFLOAT16(2),
    /** int8 with one float32 scale per row of the last axis (per token and KV head). */
    INT8(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element, not counting an {@link #INT8} tensor's scales ({@link #bytesPerRow}). */
    public int bytes() {
        return bytes;
    }

    /** Bytes one row of {@code width} elements takes, with its scale for {@link #INT8} (4 bytes per row). */
    public long bytesPerRow(int width) {
        return (long) width * bytes + (this == INT8 ? Float.BYTES : 0);
    }

    /** float32 or float64: the types a layer's weights and activations may have. */
    public boolean isFloating() {
        return this == FLOAT32 || this == FLOAT64;
    }

    /** Holds real numbers: a floating type or a reduced one (the types q, k, v and KV caches may have). */
    public boolean isReal() {
        return isFloating() || isReduced();
    }

    /** One of the reduced storage types {@link #FLOAT16}, {@link #BFLOAT16}, {@link #INT8}. */
    public boolean isReduced() {
        return this == FLOAT16 || this == BFLOAT16 || this == INT8;
    }
}
