package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.Float32Range;
import org.attn4j.api.Tensor;

import java.util.function.Supplier;

/**
 * The float32 range rules of the device layers (AttentionBackend, "Numeric range"), as the cpu layers apply them:
 * no input that float32 cannot hold is uploaded, the attention's result is checked (one scan of out and lse), and
 * so is {@code y}. On the float64 path (all weights float64 on a {@code cl_khr_fp64} device) they do nothing.
 */
final class LayerRange {
    private LayerRange() {
    }

    /** A float64 activation or weight beyond float32 is rejected on the float32 path, never uploaded as an infinity. */
    static void requireFits(RealType real, String name, Tensor t) {
        if (real == RealType.FLOAT32 && t != null) Float32Range.requireFits(name, t);
    }

    /**
     * Runs {@code call} and, on the float32 path, checks its output {@code out} ({@code rows} query rows of
     * {@code width} reals, any layout) with an lse of its own; {@code inputs} names the inputs when it failed.
     */
    static void attend(KernelSet ks, ClScope scope, AttendCall call, long out, long rows, long width,
                       Supplier<Float32Range.Magnitudes> inputs) {
        boolean guard = ks.real == RealType.FLOAT32 && rows > 0;
        long lse = guard ? scope.alloc(ks.real, rows) : 0;
        call.lse = lse;
        call.enqueue(ks, scope);
        if (!guard) return;
        float[] o = scope.readTensor(out, ks.real, Math.toIntExact(rows * width)).toFloatArray();
        float[] l = scope.readTensor(lse, ks.real, Math.toIntExact(rows)).toFloatArray();
        OpenClAttentionPlan.checkRange(o, l, null, 1, inputs, "layer attention");
    }

    /**
     * The largest {@code |x|} of a device intermediate (a projection), read back on the failure path only; a
     * non-finite element means the projection itself overflowed, and is named as such.
     */
    static double maxAbs(ClScope scope, RealType real, long mem, long count, String what) {
        float[] a = scope.readTensor(mem, real, Math.toIntExact(count)).toFloatArray();
        requireFinite(what, a);
        return Float32Range.maxAbs(a, 0, a.length);
    }

    /** {@code y} on the float32 path: finite, or an error saying which inputs to look at. */
    static Tensor requireFiniteOutput(RealType real, Tensor y, String what) {
        if (real == RealType.FLOAT32) requireFinite(what, y.toFloatArray());
        return y;
    }

    private static void requireFinite(String what, float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) throw AttentionException.invalid(what + "[" + i + "]", "a finite float32 value", a[i]);
        }
    }
}
