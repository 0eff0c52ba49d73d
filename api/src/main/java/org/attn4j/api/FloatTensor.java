package org.attn4j.api;

/** A {@link Tensor} of {@code float} over a {@code float[]}. */
public final class FloatTensor extends Tensor {
    private final float[] data;

    public FloatTensor(float[] data, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, data.length);
        this.data = data;
    }

    /** A contiguous tensor over {@code data} (not copied); its length must match the shape. */
    public static FloatTensor of(float[] data, int... shape) {
        int n = elementCount(shape);
        if (data.length != n) {
            throw AttentionException.invalid("data.length", n + " for shape " + java.util.Arrays.toString(shape), data.length);
        }
        return new FloatTensor(data, shape, contiguousStrides(shape), 0);
    }

    public static FloatTensor zeros(int... shape) {
        return new FloatTensor(new float[elementCount(shape)], shape, contiguousStrides(shape), 0);
    }

    /** A contiguous float copy of any numeric tensor. */
    public static FloatTensor copyOf(Tensor t) {
        if (!t.dtype().isReal() && t.dtype() != DType.INT32) {
            throw AttentionException.invalid("dtype", "a numeric tensor", t.dtype());
        }
        if (t instanceof FloatTensor same) return same.copy();
        return of(t.toFloatArray(), t.shape());
    }

    @Override
    public DType dtype() {
        return DType.FLOAT32;
    }

    /** The backing storage (shared, not copied): index it with {@link #offset()} and {@link #strides()}. */
    public float[] data() {
        return data;
    }

    public float get(int... index) {
        return data[storageIndex(index)];
    }

    public void set(float value, int... index) {
        data[storageIndex(index)] = value;
    }

    @Override
    public double doubleAtStorage(int storageIndex) {
        return data[storageIndex];
    }

    @Override
    protected FloatTensor view(int[] shape, int[] strides, int offset) {
        return new FloatTensor(data, shape, strides, offset);
    }

    @Override
    public FloatTensor permute(int... axes) {
        return (FloatTensor) super.permute(axes);
    }

    @Override
    public FloatTensor slice(int axis, int start, int length) {
        return (FloatTensor) super.slice(axis, start, length);
    }

    @Override
    public FloatTensor select(int axis, int index) {
        return (FloatTensor) super.select(axis, index);
    }

    @Override
    public FloatTensor broadcastTo(int... target) {
        return (FloatTensor) super.broadcastTo(target);
    }

    @Override
    public FloatTensor reshape(int... newShape) {
        return (FloatTensor) super.reshape(newShape);
    }

    @Override
    public FloatTensor copy() {
        float[] out = new float[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = data[storageOf(idx)];
            increment(idx);
        }
        return of(out, shape);
    }
}
