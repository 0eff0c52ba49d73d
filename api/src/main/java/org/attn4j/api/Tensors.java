package org.attn4j.api;

import java.util.Arrays;

/** Small helpers over {@link Tensor}s that are not views: copies between dtypes, comparisons. */
public final class Tensors {
    private Tensors() {
    }

    /**
     * Copies {@code src} into {@code dst} element-wise (same shape). Walks the storage by strides, a run along the
     * last axis at a time (cache appends go through here). A reduced {@code dst} stores by {@link Quantization}'s
     * rule, from the float32 value of each element; an {@link Int8Tensor} {@code dst} takes whole rows (its last axis
     * must be unit-stride storage rows), quantized row by row, or copied with their scales from an int8 source.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw AttentionException.invalid("dst.shape", Arrays.toString(src.shape()), Arrays.toString(dst.shape()));
        }
        if (!dst.dtype().isReal()) {
            throw AttentionException.invalid("dst.dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", dst.dtype());
        }
        if (!src.dtype().isReal() && src.dtype() != DType.INT32) {
            throw AttentionException.invalid("src.dtype", "a numeric tensor", src.dtype());
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
            for (int i = 0; i < run; i++, si += ss, di += ds) to[di] = floatAt(src, si);
        } else if (dst instanceof HalfTensor h) {
            short[] to = h.bits();
            boolean f16 = h.dtype() == DType.FLOAT16;
            for (int i = 0; i < run; i++, si += ss, di += ds) {
                float x = floatAt(src, si);
                to[di] = f16 ? Quantization.toFloat16(x) : Quantization.toBFloat16(x);
            }
        } else if (dst instanceof Int8Tensor q) {
            writeInt8Row(src, si, ss, q, di, ds, run);
        } else {
            double[] to = ((DoubleTensor) dst).data();
            for (int i = 0; i < run; i++, si += ss, di += ds) to[di] = src.doubleAtStorage(si);
        }
    }

    /** The float32 value of a storage element: exact for float32 and the reduced types, rounded for float64. */
    private static float floatAt(Tensor src, int si) {
        return switch (src) {
            case FloatTensor f -> f.data()[si];
            case HalfTensor h -> h.floatAtStorage(si);
            case Int8Tensor q -> q.data()[si] * q.scaleAtStorage(si);
            default -> (float) src.doubleAtStorage(si);
        };
    }

    /** One whole int8 row: copied with its scale from an int8 row, else quantized from the float32 values. */
    private static void writeInt8Row(Tensor src, int si, int ss, Int8Tensor dst, int di, int ds, int run) {
        int pitch = dst.rowPitch();
        if (run == 0) return;
        if (ds != 1 && run > 1 || di % pitch != 0 || run != pitch) {
            throw AttentionException.invalid("dst", "whole int8 rows (a unit-stride last axis of " + pitch + " elements)",
                    "a run of " + run + " at stride " + ds);
        }
        byte[] to = dst.data();
        if (src instanceof Int8Tensor q && (ss == 1 || run == 1) && si % q.rowPitch() == 0 && q.rowPitch() == run) {
            System.arraycopy(q.data(), si, to, di, run); // the same row: keep its bytes and scale exactly
            dst.scales()[di / pitch] = q.scaleAtStorage(si);
            return;
        }
        float[] row = new float[run];
        for (int i = 0; i < run; i++, si += ss) row[i] = floatAt(src, si);
        dst.scales()[di / pitch] = Quantization.quantizeRow(row, 0, run, to, di);
    }

    /** A zero tensor of a real dtype (float32, float64, or a reduced one; int8 rows are the last axis). */
    public static Tensor zeros(DType dtype, int... shape) {
        return switch (dtype) {
            case FLOAT32 -> FloatTensor.zeros(shape);
            case FLOAT64 -> DoubleTensor.zeros(shape);
            case FLOAT16, BFLOAT16 -> HalfTensor.zeros(dtype, shape);
            case INT8 -> Int8Tensor.zeros(shape);
            default -> throw AttentionException.invalid("dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", dtype);
        };
    }

    /** The first non-finite element's index, or {@code null} when all are finite. */
    public static int[] firstNonFinite(Tensor t) {
        // Walks the innermost axis as a strided run over the backing array: this check runs on every
        // kernel call, so it must cost one pass over memory, not an index computation per element.
        int rank = t.rank();
        int n = t.elementCount();
        if (n == 0 || !(t instanceof FloatTensor || t instanceof DoubleTensor || t instanceof HalfTensor)) {
            return null; // bool, int and int8 (finite scales) are always finite
        }
        if (rank == 0) return Double.isFinite(t.doubleAtStorage(t.offset())) ? null : new int[0];
        int[] shape = t.shape();
        int[] strides = t.strides();
        int inner = shape[rank - 1];
        int innerStride = strides[rank - 1];
        int[] idx = new int[rank];
        float[] f = t instanceof FloatTensor ft ? ft.data() : null;
        double[] d = t instanceof DoubleTensor dt ? dt.data() : null;
        HalfTensor h = t instanceof HalfTensor ht ? ht : null;
        for (int row = 0, rows = n / inner; row < rows; row++) {
            int base = t.offset();
            for (int a = 0; a < rank - 1; a++) base += idx[a] * strides[a];
            for (int i = 0, at = base; i < inner; i++, at += innerStride) {
                double x = f != null ? f[at] : d != null ? d[at] : h.floatAtStorage(at);
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
