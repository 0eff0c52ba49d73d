package org.attn4j.api;

import java.util.Arrays;

/**
 * A {@link Tensor} of 16-bit floats over a {@code short[]} of bit patterns: {@link DType#FLOAT16} (IEEE binary16) or
 * {@link DType#BFLOAT16}. Every element is exact in float32; {@link #getFloat} widens it.
 */
public final class HalfTensor extends Tensor {
    private final DType dtype;
    private final short[] bits;

    public HalfTensor(DType dtype, short[] bits, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, bits.length);
        AttentionException.require(dtype == DType.FLOAT16 || dtype == DType.BFLOAT16, "dtype", "FLOAT16 or BFLOAT16", dtype);
        this.dtype = dtype;
        this.bits = bits;
    }

    /** A contiguous tensor over {@code bits} (not copied); its length must match the shape. */
    public static HalfTensor of(DType dtype, short[] bits, int... shape) {
        int n = elementCount(shape);
        if (bits.length != n) throw AttentionException.invalid("bits.length", n + " for shape " + Arrays.toString(shape), bits.length);
        return new HalfTensor(dtype, bits, shape, contiguousStrides(shape), 0);
    }

    public static HalfTensor zeros(DType dtype, int... shape) {
        return new HalfTensor(dtype, new short[elementCount(shape)], shape, contiguousStrides(shape), 0);
    }

    /** {@code t}'s values rounded to {@code dtype} by {@link Quantization} (float64 values via float32), contiguous. */
    public static HalfTensor round(DType dtype, Tensor t) {
        HalfTensor out = zeros(dtype, t.shape());
        Tensors.copyInto(t, out);
        return out;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    /** The backing bit patterns (shared, not copied): index them with {@link #offset()} and {@link #strides()}. */
    public short[] bits() {
        return bits;
    }

    /** The element at a storage index as float32 (exact). */
    public float floatAtStorage(int storageIndex) {
        short b = bits[storageIndex];
        return dtype == DType.FLOAT16 ? Quantization.fromFloat16(b) : Quantization.fromBFloat16(b);
    }

    public float getFloat(int... index) {
        return floatAtStorage(storageIndex(index));
    }

    @Override
    public double doubleAtStorage(int storageIndex) {
        return floatAtStorage(storageIndex);
    }

    @Override
    protected HalfTensor view(int[] shape, int[] strides, int offset) {
        return new HalfTensor(dtype, bits, shape, strides, offset);
    }

    @Override
    public HalfTensor permute(int... axes) {
        return (HalfTensor) super.permute(axes);
    }

    @Override
    public HalfTensor slice(int axis, int start, int length) {
        return (HalfTensor) super.slice(axis, start, length);
    }

    @Override
    public HalfTensor select(int axis, int index) {
        return (HalfTensor) super.select(axis, index);
    }

    @Override
    public HalfTensor broadcastTo(int... target) {
        return (HalfTensor) super.broadcastTo(target);
    }

    @Override
    public HalfTensor reshape(int... newShape) {
        return (HalfTensor) super.reshape(newShape);
    }

    @Override
    public HalfTensor copy() {
        short[] out = new short[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = bits[storageOf(idx)];
            increment(idx);
        }
        return of(dtype, out, shape);
    }
}
