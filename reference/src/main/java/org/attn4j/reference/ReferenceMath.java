package org.attn4j.reference;

import org.attn4j.api.AttentionException;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.Tensor;

import java.util.Arrays;

/** Plain float64 linear algebra for the reference layers: obvious loops, no tricks. */
public final class ReferenceMath {
    private ReferenceMath() {
    }

    /**
     * {@code y = x W^T + b} as PyTorch's {@code nn.Linear}: {@code x [..., in]}, {@code w [out, in]},
     * {@code b [out]} or {@code null}; returns {@code [..., out]}.
     */
    public static DoubleTensor linear(Tensor x, Tensor w, Tensor b) {
        int in = w.size(1);
        int out = w.size(0);
        int[] xs = x.shape();
        AttentionException.require(xs[xs.length - 1] == in, "x.shape[-1]", in + " (w.shape[1])", xs[xs.length - 1]);
        double[] xd = x.toDoubleArray();
        double[] wd = w.toDoubleArray();
        double[] bd = b == null ? null : b.toDoubleArray();
        int rows = xd.length / Math.max(in, 1);
        if (in == 0) rows = Tensor.elementCount(Arrays.copyOf(xs, xs.length - 1));
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double acc = bd == null ? 0 : bd[o];
                for (int i = 0; i < in; i++) acc += xd[r * in + i] * wd[o * in + i];
                y[r * out + o] = acc;
            }
        }
        int[] ys = xs.clone();
        ys[ys.length - 1] = out;
        return DoubleTensor.of(y, ys);
    }

    /** {@code [B, L, heads*dim]} to {@code [B, heads, L, dim]} (a copy). */
    public static DoubleTensor splitHeads(Tensor x, int heads, int dim) {
        int b = x.size(0);
        int l = x.size(1);
        AttentionException.require(x.size(2) == heads * dim, "x.shape[2]", heads * dim, x.size(2));
        DoubleTensor c = DoubleTensor.copyOf(x).reshape(b, l, heads, dim);
        return c.permute(0, 2, 1, 3).copy();
    }

    /** {@code [B, heads, L, dim]} to {@code [B, L, heads*dim]} (a copy). */
    public static DoubleTensor mergeHeads(Tensor x) {
        int b = x.size(0);
        int h = x.size(1);
        int l = x.size(2);
        int d = x.size(3);
        return DoubleTensor.copyOf(x.permute(0, 2, 1, 3)).reshape(b, l, h * d);
    }
}
