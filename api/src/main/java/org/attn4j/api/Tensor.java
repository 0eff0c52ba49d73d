package org.attn4j.api;

import java.util.Arrays;

/**
 * A dense, strided view over a flat array: {@code shape}, {@code strides} (in elements) and an
 * {@code offset}. Views share storage: {@link #permute} turns a {@code [B, L, H, D]} tensor into the
 * logical {@code [B, H, L, D]} layout by swapping strides, without a copy; {@link #broadcastTo}
 * implements NumPy broadcasting with zero strides.
 *
 * <p>Element type and storage are given by the subclass: {@link FloatTensor}, {@link DoubleTensor},
 * {@link BoolTensor}, {@link IntTensor}, and the reduced storage types {@link HalfTensor} (float16, bfloat16) and
 * {@link Int8Tensor} (int8 with a scale per row).
 */
public abstract sealed class Tensor permits FloatTensor, DoubleTensor, BoolTensor, IntTensor, HalfTensor, Int8Tensor {
    /** Largest element count a tensor may have (storage is indexed by {@code int}). */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    protected final int[] shape;
    protected final int[] strides;
    protected final int offset;

    protected Tensor(int[] shape, int[] strides, int offset, int storageLength) {
        if (shape.length != strides.length) {
            throw AttentionException.invalid("strides", "rank " + shape.length, "rank " + strides.length);
        }
        boolean empty = false;
        for (int size : shape) {
            if (size < 0) throw AttentionException.invalid("shape", "non-negative sizes", Arrays.toString(shape));
            if (size == 0) empty = true;
        }
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
        if (empty) return; // an empty view reads nothing: no bounds to check
        long max = offset;
        long min = offset;
        for (int i = 0; i < shape.length; i++) {
            long span = (long) (shape[i] - 1) * strides[i];
            if (span > 0) max += span; else min += span;
        }
        if (min < 0 || max >= storageLength) {
            throw AttentionException.invalid("view", "inside storage of length " + storageLength,
                    "shape " + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + " offset " + offset);
        }
    }

    /** Row-major (C order) strides for a shape. */
    public static int[] contiguousStrides(int... shape) {
        int[] strides = new int[shape.length];
        long stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = (int) stride;
            stride *= Math.max(shape[i], 1);
        }
        return strides;
    }

    /** Number of elements of a shape; rejects negative sizes and shapes too large for one array. */
    public static int elementCount(int... shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw AttentionException.invalid("shape", "non-negative sizes", Arrays.toString(shape));
            n *= s;
            if (n > MAX_ELEMENTS) {
                throw AttentionException.invalid("shape", "at most " + MAX_ELEMENTS + " elements", Arrays.toString(shape));
            }
        }
        return (int) n;
    }

    public abstract DType dtype();

    public int rank() {
        return shape.length;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int size(int axis) {
        return shape[axis];
    }

    public int[] strides() {
        return strides.clone();
    }

    public int stride(int axis) {
        return strides[axis];
    }

    public int offset() {
        return offset;
    }

    public int elementCount() {
        return elementCount(shape);
    }

    /** True when the view walks its storage in row-major order from {@link #offset()}, with no gaps. */
    public boolean isContiguous() {
        int[] expected = contiguousStrides(shape);
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > 1 && strides[i] != expected[i]) return false;
        }
        return true;
    }

    /** The storage index of an element. */
    public int storageIndex(int... index) {
        if (index.length != shape.length) {
            throw AttentionException.invalid("index", "rank " + shape.length, "rank " + index.length);
        }
        int at = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw AttentionException.invalid("index[" + i + "]", "in [0, " + shape[i] + ")", index[i]);
            }
            at += index[i] * strides[i];
        }
        return at;
    }

    /** The element at a storage index, widened to double (bool: 1 or 0). */
    public abstract double doubleAtStorage(int storageIndex);

    /** The element at a logical index, widened to double. */
    public double getDouble(int... index) {
        return doubleAtStorage(storageIndex(index));
    }

    /** All elements in row-major order as a new double array. */
    public double[] toDoubleArray() {
        double[] out = new double[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = doubleAtStorage(storageOf(idx));
            increment(idx);
        }
        return out;
    }

    /** All elements in row-major order as a new float array (rounded to nearest). */
    public float[] toFloatArray() {
        float[] out = new float[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = (float) doubleAtStorage(storageOf(idx));
            increment(idx);
        }
        return out;
    }

    protected final int storageOf(int[] idx) {
        int at = offset;
        for (int i = 0; i < idx.length; i++) at += idx[i] * strides[i];
        return at;
    }

    protected final void increment(int[] idx) {
        for (int i = idx.length - 1; i >= 0; i--) {
            if (++idx[i] < shape[i]) return;
            idx[i] = 0;
        }
    }

    /** A view with the axes reordered: {@code permute(0, 2, 1, 3)} turns [B, L, H, D] into [B, H, L, D]. */
    public Tensor permute(int... axes) {
        if (axes.length != shape.length) {
            throw AttentionException.invalid("axes", "a permutation of " + shape.length + " axes", Arrays.toString(axes));
        }
        boolean[] seen = new boolean[axes.length];
        int[] s = new int[axes.length];
        int[] st = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int a = axes[i];
            if (a < 0 || a >= axes.length || seen[a]) {
                throw AttentionException.invalid("axes", "a permutation of " + shape.length + " axes", Arrays.toString(axes));
            }
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
        }
        return view(s, st, offset);
    }

    /** A view of {@code length} entries of one axis starting at {@code start}. */
    public Tensor slice(int axis, int start, int length) {
        if (axis < 0 || axis >= shape.length) throw AttentionException.invalid("axis", "in [0, " + shape.length + ")", axis);
        if (start < 0 || length < 0 || start > shape[axis] - length) {
            throw AttentionException.invalid("slice", "a range inside [0, " + shape[axis] + ") on axis " + axis,
                    "[" + start + ", " + (start + length) + ")");
        }
        int[] s = shape.clone();
        s[axis] = length;
        return view(s, strides, length == 0 ? offset : offset + start * strides[axis]);
    }

    /** A view without {@code axis}, fixed at {@code index} (rank drops by one). */
    public Tensor select(int axis, int index) {
        if (axis < 0 || axis >= shape.length) throw AttentionException.invalid("axis", "in [0, " + shape.length + ")", axis);
        if (index < 0 || index >= shape[axis]) {
            throw AttentionException.invalid("index", "in [0, " + shape[axis] + ") on axis " + axis, index);
        }
        int[] s = new int[shape.length - 1];
        int[] st = new int[shape.length - 1];
        for (int i = 0, o = 0; i < shape.length; i++) {
            if (i == axis) continue;
            s[o] = shape[i];
            st[o++] = strides[i];
        }
        return view(s, st, offset + index * strides[axis]);
    }

    /** NumPy broadcasting: aligns trailing axes, size-1 or missing axes get stride 0. */
    public Tensor broadcastTo(int... target) {
        if (!broadcastable(shape, target)) {
            throw AttentionException.invalid("shape", "broadcastable to " + Arrays.toString(target), Arrays.toString(shape));
        }
        int[] st = new int[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            int src = i - lead;
            st[i] = (src < 0 || shape[src] == 1) ? 0 : strides[src];
        }
        return view(target.clone(), st, offset);
    }

    /** Whether {@code from} broadcasts to {@code to} by NumPy's rules (trailing alignment, 1 stretches). */
    public static boolean broadcastable(int[] from, int[] to) {
        if (from.length > to.length) return false;
        int lead = to.length - from.length;
        for (int i = 0; i < from.length; i++) {
            if (from[i] != 1 && from[i] != to[lead + i]) return false;
        }
        return true;
    }

    /** A contiguous view with a new shape of the same element count (the tensor must be contiguous). */
    public Tensor reshape(int... newShape) {
        if (elementCount(newShape) != elementCount()) {
            throw AttentionException.invalid("shape", elementCount() + " elements", Arrays.toString(newShape));
        }
        if (!isContiguous()) throw new AttentionException("reshape: the tensor is not contiguous; copy it first");
        return view(newShape.clone(), contiguousStrides(newShape), offset);
    }

    /** A new view over the same storage. */
    protected abstract Tensor view(int[] shape, int[] strides, int offset);

    /** A contiguous copy (new storage). */
    public abstract Tensor copy();

    /** Fails unless the shape is exactly {@code expected}. */
    public Tensor requireShape(String argument, int... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw AttentionException.invalid(argument + ".shape", Arrays.toString(expected), Arrays.toString(shape));
        }
        return this;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + Arrays.toString(shape);
    }
}
