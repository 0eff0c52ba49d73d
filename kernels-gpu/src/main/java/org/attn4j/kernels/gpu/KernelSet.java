package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;

import java.nio.LongBuffer;

import static org.lwjgl.opencl.CL10.*;

/**
 * The kernel objects of one program ({@code attend}, {@code merge_splits}, {@code linear}, {@code rms_norm},
 * {@code rope}) with the launch sizes
 * derived from the device's and each kernel's queried limits. Owned by one plan; {@code clSetKernelArg} is not
 * thread-safe, so the plan serialises its calls.
 */
final class KernelSet implements AutoCloseable {
    /** Upper bounds we choose, not device limits: enough work-items to cover a tile row-block on any device. */
    private static final int ATTEND_WG_CAP = 128;
    private static final int MERGE_WG_CAP = 64;
    private static final int LINEAR_TILE_CAP = 16;

    final ClContext ctx;
    final RealType real;
    /** how this set's attend reads K and V */
    final KvType kv;
    /** sets of the same REAL for the other K/V types, made on first use and closed with this one */
    private final KernelSet[] variants = new KernelSet[KvType.values().length];
    final long attend;
    final long merge;
    final long linear;
    final long rmsNorm;
    final long rope;
    /** work-items per attend work-group */
    final int attendWg;
    final int mergeWg;
    final int rmsNormWg;
    final int ropeWg;
    /** side of the square linear work-group */
    final int linearTile;
    /** local memory the attend kernel may take through its __local arguments, in bytes */
    final long attendLocalBudget;

    KernelSet(ClContext ctx, RealType real) {
        this(ctx, real, KvType.REAL);
    }

    KernelSet(ClContext ctx, RealType real, KvType kv) {
        this.ctx = ctx;
        this.real = real;
        this.kv = kv;
        long program = ctx.program(real, kv);
        long a = 0, m = 0, l = 0, n = 0, r = 0;
        try {
            a = ctx.createKernel(program, "attend");
            m = ctx.createKernel(program, "merge_splits");
            l = ctx.createKernel(program, "linear");
            n = ctx.createKernel(program, "rms_norm");
            r = ctx.createKernel(program, "rope");
        } catch (RuntimeException e) {
            for (long k : new long[]{a, m, l, n, r}) ctx.releaseKernel(k);
            throw e;
        }
        this.attend = a;
        this.merge = m;
        this.linear = l;
        this.rmsNorm = n;
        this.rope = r;
        ClDevice dev = ctx.device();
        this.attendWg = workGroup(a, ATTEND_WG_CAP);
        this.mergeWg = workGroup(m, MERGE_WG_CAP);
        this.rmsNormWg = workGroup(n, MERGE_WG_CAP);
        this.ropeWg = workGroup(r, MERGE_WG_CAP);
        int lin = 1;
        long linMax = Math.min(kernelWorkGroupSize(l), dev.maxWorkGroup());
        while (lin * 2 <= LINEAR_TILE_CAP && (long) (lin * 2) * (lin * 2) <= linMax
                && lin * 2 <= dev.maxWorkItems()[0] && lin * 2 <= dev.maxWorkItems()[1]) {
            lin *= 2;
        }
        this.linearTile = lin;
        // What the device offers minus what the kernel already uses statically, with a little slack for the runtime.
        this.attendLocalBudget = dev.localMemSize() - kernelLocalMem(a) - 64;
    }

    /**
     * The set whose attend reads K/V as {@code type}: this one, or a sibling built on first use (its program too) and
     * closed with this set. Not thread-safe, like the rest of a set: its owner serialises calls.
     */
    KernelSet variant(KvType type) {
        if (type == kv) return this;
        KernelSet v = variants[type.ordinal()];
        if (v == null) {
            v = new KernelSet(ctx, real, type);
            variants[type.ordinal()] = v;
        }
        return v;
    }

    /** The largest work-group size <= cap the kernel allows, rounded down to its preferred multiple when possible. */
    private int workGroup(long kernel, int cap) {
        ClDevice dev = ctx.device();
        long max = Math.min(Math.min(kernelWorkGroupSize(kernel), dev.maxWorkGroup()), dev.maxWorkItems()[0]);
        int wg = (int) Math.max(1, Math.min(cap, max));
        long multiple = kernelInfoPointer(kernel, 0x11B3 /* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE */);
        if (multiple > 1 && wg >= multiple) wg -= (int) (wg % multiple);
        return wg;
    }

    private long kernelWorkGroupSize(long kernel) {
        return kernelInfoPointer(kernel, CL_KERNEL_WORK_GROUP_SIZE);
    }

    private long kernelInfoPointer(long kernel, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer b = stack.mallocPointer(1);
            int s = clGetKernelWorkGroupInfo(kernel, ctx.device().device(), param, b, null);
            if (s != CL_SUCCESS) return 1;
            return b.get(0);
        }
    }

    private long kernelLocalMem(long kernel) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            LongBuffer b = stack.mallocLong(1);
            ClError.check(clGetKernelWorkGroupInfo(kernel, ctx.device().device(), CL_KERNEL_LOCAL_MEM_SIZE, b, null),
                    "clGetKernelWorkGroupInfo");
            return b.get(0);
        }
    }

    /** Local memory the attend kernel needs for these tiles, in bytes. */
    static long attendLocalBytes(RealType real, int tileQ, int tileK, int headDim, int vHeadDim) {
        return real.bytes * ((long) tileQ * headDim + (long) tileK * headDim + (long) tileK * vHeadDim
                + (long) tileQ * vHeadDim + (long) tileQ * tileK + 3L * tileQ);
    }

    /**
     * Tile sizes (query rows, keys) for this device: start from 32 rows (fewer when the problem has fewer) by
     * 32 keys (64 for short row tiles), halve the larger until the tiles fit the local-memory budget.
     * Returns {@code null} when not even one row and one key fit.
     */
    int[] tiles(int rows, int headDim, int vHeadDim) {
        int tq = 1;
        while (tq < 32 && tq < rows) tq *= 2;
        int tk = tq <= 8 ? 64 : 32;
        while (attendLocalBytes(real, tq, tk, headDim, vHeadDim) > attendLocalBudget) {
            if (tk >= tq && tk > 1) tk /= 2;
            else if (tq > 1) tq /= 2;
            else return null;
        }
        return new int[]{tq, tk};
    }

    /** The reason this kernel set cannot run these head widths, or {@code null}. */
    String localMemoryReason(int headDim, int vHeadDim) {
        if (tiles(1, headDim, vHeadDim) != null) return null;
        return "head_dim " + headDim + " + v_head_dim " + vHeadDim + " need " + attendLocalBytes(real, 1, 1, headDim, vHeadDim)
                + " bytes of local memory per work-group at least; " + ctx.device() + " offers " + attendLocalBudget;
    }

    void requireTiles(int[] tiles, int headDim, int vHeadDim) {
        if (tiles == null) throw new AttentionException("opencl: " + localMemoryReason(headDim, vHeadDim));
    }

    /**
     * Enqueues {@code y = x W^T + b} ({@code nn.Linear}): {@code x [M, K]}, {@code w [N, K]}, {@code b [N]} or 0,
     * {@code y [M, N]}, all contiguous row-major device buffers.
     */
    void linear(ClScope scope, long x, long w, long b, long y, int m, int n, int k) {
        linear(x, 0, k, w, 0, b, y, 0, n, m, n, k);
    }

    /**
     * Strided {@code linear}: row {@code r} of x starts at {@code xOff + r * ldx}, of y at {@code yOff + r * ldy};
     * {@code w [N, K]} starts at {@code wOff}.
     */
    void linear(long x, int xOff, int ldx, long w, int wOff, long b, long y, int yOff, int ldy, int m, int n, int k) {
        if ((long) m * n == 0) return;
        int ts = linearTile;
        new KernelArgs(linear, "linear", real).mem(x).i(xOff, ldx).mem(w).i(wOff).mem(b == 0 ? ctx.dummy() : b)
                .mem(y).i(yOff, ldy).i(m, n, k, b == 0 ? 0 : 1).local((long) ts * ts).local((long) ts * ts);
        KernelArgs.launch2d(ctx, linear, "linear", KernelArgs.roundUp(n, ts), KernelArgs.roundUp(m, ts), ts, ts);
    }

    /** RMSNorm in place over {@code n} columns from {@code offset} of each of {@code rows} rows of {@code stride}. */
    void rmsNorm(long x, int rows, int stride, int offset, int n, long weight, double eps) {
        if (rows == 0) return;
        new KernelArgs(rmsNorm, "rms_norm", real).mem(x).i(rows, stride, offset, n).mem(weight).real(eps);
        KernelArgs.launch1d(ctx, rmsNorm, "rms_norm", KernelArgs.roundUp(rows, rmsNormWg), rmsNormWg);
    }

    /**
     * RoPE from {@code src} to {@code dst} (may be the same buffer) for {@code rows x heads} vectors of width {@code dim}
     * with per-row tables {@code cos, sin [rows, dim / 2]}.
     */
    void rope(long src, int srcOff, int srcRow, int srcHead, long dst, int dstOff, int dstRow, int dstHead,
              int rows, int heads, int dim, boolean interleaved, long cos, long sin) {
        long n = (long) rows * heads * (dim / 2);
        if (n == 0) return;
        new KernelArgs(rope, "rope", real).mem(src).i(srcOff, srcRow, srcHead).mem(dst).i(dstOff, dstRow, dstHead)
                .i(rows, heads, dim, interleaved ? 1 : 0).mem(cos).mem(sin);
        KernelArgs.launch1d(ctx, rope, "rope", KernelArgs.roundUp(n, ropeWg), ropeWg);
    }

    @Override
    public void close() {
        for (int i = 0; i < variants.length; i++) {
            if (variants[i] != null) variants[i].close();
            variants[i] = null;
        }
        ctx.releaseKernel(attend);
        ctx.releaseKernel(merge);
        ctx.releaseKernel(linear);
        ctx.releaseKernel(rmsNorm);
        ctx.releaseKernel(rope);
    }
}
