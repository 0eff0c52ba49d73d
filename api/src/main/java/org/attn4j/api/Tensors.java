package org.attn4j.api;

import java.util.Arrays;

/** Small helpers over {@link Tensor}s that are not views: copies between dtypes, comparisons. */
public final class Tensors {
    private Tensors() {
    }

    /**
     * Copies {@code src} into {@code dst} element-wise (same shape; {@code dst} float32 or float64). Walks the
     * storage by strides, a run along the last axis at a time (cache appends go through here).
     */
    public static void copyInto(Tensor src, Tensor dst) {
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw AttentionException.invalid("dst.shape", Arrays.toString(src.shape()), Arrays.toString(dst.shape()));
        }
        if (!(dst instanceof FloatTensor) && !(dst instanceof DoubleTensor)) {
            throw AttentionException.invalid("dst.dtype", "FLOAT32 or FLOAT64", dst.dtype());
        }
        int n = src.elementCount();
        if (n == 0) return;
        int rank = src.rank();
        if (rank == 0) {
            write(src, src.offset(), dst, dst.offset(), 1, 0, 0);
            return;
        }
        int[] shape = src.shape();
        int last = rank - 1;
        int run = shape[last];
        int[] idx = new int[rank]; // over all axes but the last
        for (int done = 0; done < n; done += run) {
            int si = src.offset();
            int di = dst.offset();
            for (int a = 0; a < last; a++) {
                si += idx[a] * src.stride(a);
                di += idx[a] * dst.stride(a);
            }
            write(src, si, dst, di, run, src.stride(last), dst.stride(last));
            for (int a = last - 1; a >= 0; a--) {
                if (++idx[a] < shape[a]) break;
                idx[a] = 0;
            }
        }
    }

    /** {@code run} elements from storage index {@code si} (stride {@code ss}) of src to {@code di} (stride {@code ds}) of dst. */
    private static void write(Tensor src, int si, Tensor dst, int di, int run, int ss, int ds) {
        if (src instanceof FloatTensor f && dst instanceof FloatTensor t) {
            float[] from = f.data();
            float[] to = t.data();
            for (int i = 0; i < run; i++, si += ss, di += ds) to[di] = from[si];
        } else if (dst instanceof FloatTensor t) {
            float[] to = t.data();
            for (int i = 0; i < run; i++, si += ss, di += ds) to[di] = (float) src.doubleAtStorage(si);
        } else {
            double[] to = ((DoubleTensor) dst).data();
            for (int i = 0; i < run; i++, si += ss, di += ds) to[di] = src.doubleAtStorage(si);
        }
    }

    /** A zero tensor of a floating dtype. */
    public static Tensor zeros(DType dtype, int... shape) {
        return switch (dtype) {
            case FLOAT32 -> FloatTensor.zeros(shape);
            case FLOAT64 -> DoubleTensor.zeros(shape);
            default -> throw AttentionException.invalid("dtype", "FLOAT32 or FLOAT64", dtype);
        };
    }

    /** The first non-finite element's index, or {@code null} when all are finite. */
    public static int[] firstNonFinite(Tensor t) {
        // Walks the innermost axis as a strided run over the backing array: this check runs on every
        // kernel call, so it must cost one pass over memory, not an index computation per element.
        int rank = t.rank();
        int n = t.elementCount();
        if (n == 0 || !(t instanceof FloatTensor || t instanceof DoubleTensor)) return null; // bool and int are always finite
        if (rank == 0) return Double.isFinite(t.doubleAtStorage(t.offset())) ? null : new int[0];
        int[] shape = t.shape();
        int[] strides = t.strides();
        int inner = shape[rank - 1];
        int innerStride = strides[rank - 1];
        int[] idx = new int[rank];
        float[] f = t instanceof FloatTensor ft ? ft.data() : null;
        double[] d = t instanceof DoubleTensor dt ? dt.data() : null;
        for (int row = 0, rows = n / inner; row < rows; row++) {
            int base = t.offset();
            for (int a = 0; a < rank - 1; a++) base += idx[a] * strides[a];
            for (int i = 0, at = base; i < inner; i++, at += innerStride) {
                double x = f != null ? f[at] : d[at];
                if (!Double.isFinite(x)) {
                    idx[rank - 1] = i;
                    return idx;
                }
            }
            for (int a = rank - 2; a >= 0; a--) {
                if (++idx[a] < shape[a]) break;
                idx[a] = 0;
            }
        }
        return null;
    }

    /** Throws when {@code t} holds NaN or an infinity, naming the argument and the index. */
    public static void requireFinite(String argument, Tensor t) {
        int[] bad = firstNonFinite(t);
        if (bad != null) throw AttentionException.invalid(argument + Arrays.toString(bad), "a finite value", t.getDouble(bad));
    }
}
