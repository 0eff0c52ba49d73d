package org.attn4j.api;

/** A {@link Tensor} of {@code int} (e.g. {@code kv_lens}). */
public final class IntTensor extends Tensor {
    private final int[] data;

    public IntTensor(int[] data, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, data.length);
        this.data = data;
    }

    public static IntTensor of(int[] data, int... shape) {
        int n = elementCount(shape);
        if (data.length != n) {
            throw AttentionException.invalid("data.length", n + " for shape " + java.util.Arrays.toString(shape), data.length);
        }
        return new IntTensor(data, shape, contiguousStrides(shape), 0);
    }

    @Override
    public DType dtype() {
        return DType.INT32;
    }

    public int[] data() {
        return data;
    }

    public int get(int... index) {
        return data[storageIndex(index)];
    }

    /** All elements in row-major order. */
    public int[] toIntArray() {
        int[] out = new int[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = data[storageOf(idx)];
            increment(idx);
        }
        return out;
    }

    @Override
    public double doubleAtStorage(int storageIndex) {
        return data[storageIndex];
    }

    @Override
    protected IntTensor view(int[] shape, int[] strides, int offset) {
        return new IntTensor(data, shape, strides, offset);
    }

    @Override
    public IntTensor copy() {
        return of(toIntArray(), shape);
    }
}
