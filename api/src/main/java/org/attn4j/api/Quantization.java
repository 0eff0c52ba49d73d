package org.attn4j.api;

/**
 * The one rule by which float values are stored in the reduced types, shared by every backend so that the same
 * appends give the same cache bytes everywhere:
 *
 * <ul>
 *   <li>{@link DType#FLOAT16}: round to nearest, ties to even, from the float32 value ({@link Float#floatToFloat16}).
 *       A float64 input is first rounded to float32.</li>
 *   <li>{@link DType#BFLOAT16}: the upper 16 bits of the float32 value, rounded to nearest, ties to even.</li>
 *   <li>{@link DType#INT8}, one scale per row (a token of one KV head): {@code scale = max|x| / 127} over the row,
 *       computed in float32; {@code q = roundHalfEven(x / scale)} in float32, clamped to [-127, 127]; an all-zero row
 *       has scale 0 and bytes 0. The stored value is {@code q * scale}.</li>
 * </ul>
 *
 * A value whose rounding would overflow the stored type (above {@link #maxFinite}) is rejected before anything is
 * written, never stored as an infinity.
 */
public final class Quantization {
    private Quantization() {
    }

    /** The largest magnitude stored in {@code dtype} without becoming an infinity. */
    public static double maxFinite(DType dtype) {
        return switch (dtype) {
            case FLOAT16 -> 65504.0;
            case BFLOAT16 -> Float.intBitsToFloat(0x7F7F0000); // 3.3895314e38
            case FLOAT32, INT8 -> Float.MAX_VALUE;
            case FLOAT64 -> Double.MAX_VALUE;
            default -> throw AttentionException.invalid("dtype", "a real type", dtype);
        };
    }

    /** float32 to float16 bits, round to nearest even. */
    public static short toFloat16(float x) {
        return Float.floatToFloat16(x);
    }

    /** float16 bits to their (exact) float32 value. */
    public static float fromFloat16(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float32 to bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
    public static short toBFloat16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) return (short) ((bits >>> 16) | 0x0040);
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** bfloat16 bits to their (exact) float32 value. */
    public static float fromBFloat16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** {@code x} rounded to {@code dtype} and back to float32 (FLOAT32: {@code x}; not for INT8, which needs a row). */
    public static float round(DType dtype, float x) {
        return switch (dtype) {
            case FLOAT32 -> x;
            case FLOAT16 -> fromFloat16(toFloat16(x));
            case BFLOAT16 -> fromBFloat16(toBFloat16(x));
            default -> throw AttentionException.invalid("dtype", "FLOAT32, FLOAT16 or BFLOAT16", dtype);
        };
    }

    /** The int8 scale of a row: {@code max|x| / 127} in float32 (0 for an all-zero row). */
    public static float int8Scale(float[] row, int off, int n) {
        float max = 0f;
        for (int i = 0; i < n; i++) max = Math.max(max, Math.abs(row[off + i]));
        return max / 127f;
    }

    /** One element quantized with its row's {@code scale}: {@code roundHalfEven(x / scale)} clamped to ±127. */
    public static byte int8(float x, float scale) {
        if (scale == 0f) return 0;
        float r = x / scale;
        double q = Math.rint(r); // ties to even
        return (byte) Math.max(-127, Math.min(127, q));
    }

    /**
     * Quantizes a row of {@code n} floats at {@code row[off]} into {@code out[outOff..]}; returns its scale.
     */
    public static float quantizeRow(float[] row, int off, int n, byte[] out, int outOff) {
        float scale = int8Scale(row, off, n);
        for (int i = 0; i < n; i++) out[outOff + i] = int8(row[off + i], scale);
        return scale;
    }
}
