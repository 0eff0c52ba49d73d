package org.attn4j.api;

/** A {@link Tensor} of booleans (masks: {@code true} = may attend / keep). */
public final class BoolTensor extends Tensor {
    private final boolean[] data;

    public BoolTensor(boolean[] data, int[] shape, int[] strides, int offset) {
        super(shape, strides, offset, data.length);
        this.data = data;
    }

    public static BoolTensor of(boolean[] data, int... shape) {
        int n = elementCount(shape);
        if (data.length != n) {
            throw AttentionException.invalid("data.length", n + " for shape " + java.util.Arrays.toString(shape), data.length);
        }
        return new BoolTensor(data, shape, contiguousStrides(shape), 0);
    }

    @Override
    public DType dtype() {
        return DType.BOOL;
    }

    public boolean[] data() {
        return data;
    }

    public boolean get(int... index) {
        return data[storageIndex(index)];
    }

    public boolean atStorage(int storageIndex) {
        return data[storageIndex];
    }

    @Override
    public double doubleAtStorage(int storageIndex) {
        return data[storageIndex] ? 1 : 0;
    }

    @Override
    protected BoolTensor view(int[] shape, int[] strides, int offset) {
        return new BoolTensor(data, shape, strides, offset);
    }

    @Override
    public BoolTensor permute(int... axes) {
        return (BoolTensor) super.permute(axes);
    }

    @Override
    public BoolTensor slice(int axis, int start, int length) {
        return (BoolTensor) super.slice(axis, start, length);
    }

    @Override
    public BoolTensor select(int axis, int index) {
        return (BoolTensor) super.select(axis, index);
    }

    @Override
    public BoolTensor broadcastTo(int... target) {
        return (BoolTensor) super.broadcastTo(target);
    }

    @Override
    public BoolTensor reshape(int... newShape) {
        return (BoolTensor) super.reshape(newShape);
    }

    @Override
    public BoolTensor copy() {
        boolean[] out = new boolean[elementCount()];
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            out[n] = data[storageOf(idx)];
            increment(idx);
        }
        return of(out, shape);
    }
}
