package org.attn4j.api;

import java.util.Arrays;

/**
 * A {@link Tensor} of int8 values with one float32 scale per storage row: the storage is {@code byte[] data} cut
 * into rows of {@code rowPitch} bytes, and {@code scales[r]} belongs to row {@code r}; the element at storage index
 * {@code i} stands for {@code data[i] * scales[i / rowPitch]}. A KV cache of {@link DType#INT8} keeps one row per
 * token and KV head ({@code rowPitch = headDim}), so every view of it (a sequence, a head, a token range) keeps
 * each element's scale. Scales are finite and {@code >= 0}. How floats become int8 is fixed in {@link Quantization}.
 */
public final class Int8Tensor extends Tensor {
    private final byte[] data;
    private final float[] scales;
    private final int rowPitch;

    public Int8Tensor(byte[] data, float[] scales, int rowPitch, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, data.length);
        AttentionException.require(rowPitch >= 1, "rowPitch", ">= 1", rowPitch);
        AttentionException.require(data.length % rowPitch == 0, "data.length", "a multiple of rowPitch " + rowPitch, data.length);
        AttentionException.require(scales.length == data.length / rowPitch, "scales.length",
                (data.length / rowPitch) + " (one per row of " + rowPitch + ")", scales.length);
        this.data = data;
        this.scales = scales;
        this.rowPitch = rowPitch;
    }

    /**
     * A contiguous tensor whose rows are its last axis: {@code data} of {@code shape}, {@code scales} of
     * {@code shape} without its last axis (not copied). Every scale must be finite and {@code >= 0}.
     */
    public static Int8Tensor of(byte[] data, float[] scales, int... shape) {
        AttentionException.require(shape.length >= 1, "shape", "rank >= 1", Arrays.toString(shape));
        int n = elementCount(shape);
        if (data.length != n) throw AttentionException.invalid("data.length", n + " for shape " + Arrays.toString(shape), data.length);
        int width = shape[shape.length - 1];
        int rows = elementCount(Arrays.copyOf(shape, shape.length - 1));
        AttentionException.require(scales.length == rows, "scales.length",
                rows + " (one per row: shape " + Arrays.toString(Arrays.copyOf(shape, shape.length - 1)) + ")", scales.length);
        for (int r = 0; r < rows; r++) {
            if (!(Float.isFinite(scales[r]) && scales[r] >= 0f)) {
                throw AttentionException.invalid("scales[" + r + "]", "a finite scale >= 0", scales[r]);
            }
        }
        if (width == 0) { // no bytes: one row pitch of 1 over an empty array keeps the invariants
            return new Int8Tensor(data, new float[0], 1, shape, contiguousStrides(shape), 0);
        }
        return new Int8Tensor(data, scales, width, shape, contiguousStrides(shape), 0);
    }

    /** Zeros (scale 0) of {@code shape}, one row per last-axis run. */
    public static Int8Tensor zeros(int... shape) {
        AttentionException.require(shape.length >= 1, "shape", "rank >= 1", Arrays.toString(shape));
        int width = Math.max(1, shape[shape.length - 1]);
        int n = elementCount(shape);
        int rows = shape[shape.length - 1] == 0 ? 0 : n / width;
        return new Int8Tensor(new byte[n], new float[rows], width, shape, contiguousStrides(shape), 0);
    }

    /** {@code t}'s values quantized row by row (rows = last axis) by {@link Quantization}, contiguous. */
    public static Int8Tensor quantize(Tensor t) {
        Int8Tensor out = zeros(t.shape());
        Tensors.copyInto(t, out);
        return out;
    }

    @Override
    public DType dtype() {
        return DType.INT8;
    }

    /** The backing bytes (shared): index them with {@link #offset()} and {@link #strides()}. */
    public byte[] data() {
        return data;
    }

    /** The scales (shared), one per storage row: the element at storage index {@code i} uses {@code scales[i / rowPitch()]}. */
    public float[] scales() {
        return scales;
    }

    public int rowPitch() {
        return rowPitch;
    }

    /** The scale of the element at a storage index. */
    public float scaleAtStorage(int storageIndex) {
        return scales[storageIndex / rowPitch];
    }

    /** The element's value, {@code q * scale}, exact in float64. */
    @Override
    public double doubleAtStorage(int storageIndex) {
        return (double) data[storageIndex] * (double) scales[storageIndex / rowPitch];
    }

    @Override
    protected Int8Tensor view(int[] shape, int[] strides, int offset) {
        return new Int8Tensor(data, scales, rowPitch, shape, strides, offset);
    }

    @Override
    public Int8Tensor permute(int... axes) {
        return (Int8Tensor) super.permute(axes);
    }

    @Override
    public Int8Tensor slice(int axis, int start, int length) {
        return (Int8Tensor) super.slice(axis, start, length);
    }

    @Override
    public Int8Tensor select(int axis, int index) {
        return (Int8Tensor) super.select(axis, index);
    }

    @Override
    public Int8Tensor broadcastTo(int... target) {
        return (Int8Tensor) super.broadcastTo(target);
    }

    @Override
    public Int8Tensor reshape(int... newShape) {
        return (Int8Tensor) super.reshape(newShape);
    }

    /**
     * A contiguous copy. Its rows are the last axis, one scale each, so each source row must take its values from one
     * scale: true for a view that keeps the last axis as the row axis and starts on a storage row, not for one that
     * starts inside a row or whose rows are not a multiple of the row pitch apart. A row whose elements have different
     * scales cannot be copied exactly and throws an {@link AttentionException}.
     */
    @Override
    public Int8Tensor copy() {
        AttentionException.require(rank() >= 1, "rank", ">= 1", rank());
        int width = shape[rank() - 1];
        int n = elementCount();
        byte[] out = new byte[n];
        int rows = width == 0 ? 0 : n / width;
        float[] outScales = new float[rows];
        int[] idx = new int[shape.length];
        for (int i = 0; i < n; i++) {
            int at = storageOf(idx);
            float scale = scaleAtStorage(at);
            int row = i / width;
            if (i % width == 0) outScales[row] = scale;
            else if (outScales[row] != scale) {
                throw new AttentionException("copy: the last axis of this int8 view spans several scales; it cannot be copied exactly");
            }
            out[i] = data[at];
            increment(idx);
        }
        return width == 0 ? zeros(shape) : new Int8Tensor(out, outScales, width, shape, contiguousStrides(shape), 0);
    }
}
