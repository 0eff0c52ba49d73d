package org.attn4j.api;

/** A {@link Tensor} of {@code double} over a {@code double[]}. */
public final class DoubleTensor extends Tensor {
    private final double[] data;

    public DoubleTensor(double[] data, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, data.length);
        this.data = data;
    }

    /** A contiguous tensor over {@code data} (not copied); its length must match the shape. */
    public static DoubleTensor of(double[] data, int... shape) {
        int n = elementCount(shape);
        if (data.length != n) {
            throw AttentionException.invalid("data.length", n + " for shape " + java.util.Arrays.toString(shape), data.length);
        }
        return new DoubleTensor(data, shape, contiguousStrides(shape), 0);
    }

    public static DoubleTensor zeros(int... shape) {
        return new DoubleTensor(new double[elementCount(shape)], shape, contiguousStrides(shape), 0);
    }

    /** A contiguous double copy of any numeric tensor. */
    public static DoubleTensor copyOf(Tensor t) {
        if (!t.dtype().isReal() && t.dtype() != DType.INT32) {
            throw AttentionException.invalid("dtype", "a numeric tensor", t.dtype());
        }
        if (t instanceof DoubleTensor same) return same.copy();
        return of(t.toDoubleArray(), t.shape());
    }

    @Override
    public DType dtype() {
        return DType.FLOAT64;
    }

    /** The backing storage (shared, not copied): index it with {@link #offset()} and {@link #strides()}. */
    public double[] data() {
        return data;
    }

    public double get(int... index) {
        return data[storageIndex(index)];
    }

    public void set(double value, int... index) {
        data[storageIndex(index)] = value;
    }

    @Override
    public double doubleAtStorage(int storageIndex) {
        return data[storageIndex];
    }

    @Override
    protected DoubleTensor view(int[] shape, int[] strides, int offset) {
        return new DoubleTensor(data, shape, strides, offset);
    }

    @Override
    public DoubleTensor permute(int... axes) {
        return (DoubleTensor) super.permute(axes);
    }

    @Override
    public DoubleTensor slice(int axis, int start, int length) {
        return (DoubleTensor) super.slice(axis, start, length);
    }

    @Override
    public DoubleTensor select(int axis, int index) {
        return (DoubleTensor) super.select(axis, index);
    }

    @Override
    public DoubleTensor broadcastTo(int... target) {
        return (DoubleTensor) super.broadcastTo(target);
    }

    @Override
    public DoubleTensor reshape(int... newShape) {
        return (DoubleTensor) super.reshape(newShape);
    }

    @Override
    public DoubleTensor copy() {
        double[] out = new double[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = data[storageOf(idx)];
            increment(idx);
        }
        return of(out, shape);
    }
}
