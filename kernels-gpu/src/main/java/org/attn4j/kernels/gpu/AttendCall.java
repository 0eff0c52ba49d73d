package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;

/**
 * One attention launch on device buffers. Tensors are addressed as {@code base + b*sB + h*sH + row*sL + c}
 * (the last axis contiguous), so a projection's {@code [B, L, H*D]} output is read as {@code [B, H, L, D]}
 * without a copy. Buffers left 0 are absent; strides of absent inputs are ignored.
 */
final class AttendCall {
    static final int F_CAUSAL = 1, F_TOP_LEFT = 2, F_BIAS = 4, F_MASK = 8, F_ALIBI = 16, F_SINKS = 32, F_KV_LENS = 64,
            F_LSE = 128, F_PAGED = 256;

    AttentionSpec spec;
    int batch, qLen, kvLen;
    /** q {@code [B, Hq, Lq, D]} */
    long q;
    int qsB, qsH, qsL;
    /** k {@code [B, Hkv, Lk, D]}, or pages {@code [pages, Hkv, pageSize, D]} when {@link #pageSize} > 0 */
    long k;
    int ksB, ksH, ksL;
    long v;
    int vsB, vsH, vsL;
    /** how K and V are stored; for {@link KvType#INT8} their row scales, addressed like K/V rows of width 1 */
    KvType kvType = KvType.REAL;
    long kScale;
    int kssB, kssH, kssL;
    long vScale;
    int vssB, vssH, vssL;
    /** block table {@code [B, pagesPerSeq]} (int) */
    long pageTable;
    int pageSize, pagesPerSeq;
    /** bias and mask with their strides over {@code [B, Hq, Lq, Lk]} (0 on broadcast axes) */
    long bias;
    int[] biasStrides = new int[4];
    long mask;
    int[] maskStrides = new int[4];
    long slopes, sinks, kvLens;
    /** out {@code [B, Hq, Lq, Dv]} */
    long out;
    int osB, osH, osL;
    /** lse {@code [B, Hq, Lq]} contiguous, or 0 */
    long lse;
    /** KV splits to use; 0 = choose from the device */
    int splits;

    AttendCall q(long mem, int sB, int sH, int sL) {
        q = mem; qsB = sB; qsH = sH; qsL = sL;
        return this;
    }

    AttendCall k(long mem, int sB, int sH, int sL) {
        k = mem; ksB = sB; ksH = sH; ksL = sL;
        return this;
    }

    AttendCall v(long mem, int sB, int sH, int sL) {
        v = mem; vsB = sB; vsH = sH; vsL = sL;
        return this;
    }

    /** Binds K (and its scales, or 0) as stored in {@code mem}, with element strides. */
    AttendCall k(DeviceInputs.Stored mem, int sB, int sH, int sL) {
        kvType = mem.type();
        k(mem.mem(), sB, sH, sL);
        kScale = mem.scales();
        kssB = sB / mem.width(); kssH = sH / mem.width(); kssL = sL / mem.width();
        return this;
    }

    /** Binds V as stored; K and V must share one {@link KvType}. */
    AttendCall v(DeviceInputs.Stored mem, int sB, int sH, int sL) {
        if (mem.type() != kvType) throw new IllegalStateException("K is " + kvType + ", V is " + mem.type());
        v(mem.mem(), sB, sH, sL);
        vScale = mem.scales();
        vssB = sB / mem.width(); vssH = sH / mem.width(); vssL = sL / mem.width();
        return this;
    }

    AttendCall out(long mem, int sB, int sH, int sL) {
        out = mem; osB = sB; osH = sH; osL = sL;
        return this;
    }

    /** Enqueues attention (and the split merge when the keys are split); returns the number of splits used. */
    int enqueue(KernelSet plain, ClScope scope) {
        KernelSet ks = plain.variant(kvType);
        int hq = spec.qHeads(), hkv = spec.kvHeads(), d = spec.headDim(), dv = spec.vHeadDim();
        int g = hq / hkv;
        long rowsPerKvHead = (long) g * qLen;
        if ((long) batch * hq * qLen == 0) return 0; // nothing to compute (a zero global size is not allowed)
        int[] tiles = ks.tiles((int) Math.min(rowsPerKvHead, Integer.MAX_VALUE), d, dv);
        ks.requireTiles(tiles, d, dv);
        int tq = tiles[0], tk = tiles[1];
        long rowTiles = (rowsPerKvHead + tq - 1) / tq;
        long groups = (long) batch * hkv * rowTiles;

        int s = splits > 0 ? splits : autoSplits(ks, groups, tk);
        s = (int) Math.max(1, Math.min(s, Math.max(1, ((long) kvLen + tk - 1) / tk)));
        long rows = (long) batch * hq * qLen;
        if (s > 1 && (long) s * rows * dv > Integer.MAX_VALUE / 2) s = 1; // partials must stay int-indexable
        // Each split covers whole key tiles.
        int splitLen = s == 1 ? Math.max(kvLen, 1) : (int) (((((long) kvLen + s - 1) / s) + tk - 1) / tk * tk);
        if (s > 1) s = (int) (((long) kvLen + splitLen - 1) / splitLen);
        if (groups * s * ks.attendWg > Integer.MAX_VALUE) {
            throw new AttentionException("opencl: " + groups * s + " work-groups are more than one launch may hold");
        }

        int flags = 0;
        if (spec.causal()) flags |= F_CAUSAL;
        if (spec.alignment() == org.attn4j.api.Alignment.TOP_LEFT) flags |= F_TOP_LEFT;
        if (bias != 0) flags |= F_BIAS;
        if (mask != 0) flags |= F_MASK;
        if (slopes != 0) flags |= F_ALIBI;
        if (sinks != 0) flags |= F_SINKS;
        if (kvLens != 0) flags |= F_KV_LENS;
        if (lse != 0) flags |= F_LSE;
        if (pageSize > 0) flags |= F_PAGED;

        long dummy = scope.context().dummy();
        long target = out;
        int tsS = 0, tsB = osB, tsH = osH, tsL = osL;
        long partM = dummy, partL = dummy;
        if (s > 1) {
            target = scope.alloc(ks.real, (long) s * rows * dv);
            partM = scope.alloc(ks.real, (long) s * rows);
            partL = scope.alloc(ks.real, (long) s * rows);
            tsS = (int) (rows * dv);
            tsB = hq * qLen * dv;
            tsH = qLen * dv;
            tsL = dv;
        }
        new KernelArgs(ks.attend, "attend", ks.real)
                .mem(or(q, dummy)).i(qsB, qsH, qsL)
                .mem(or(k, dummy)).i(ksB, ksH, ksL)
                .mem(or(v, dummy)).i(vsB, vsH, vsL)
                .mem(or(kScale, dummy)).i(kssB, kssH, kssL)
                .mem(or(vScale, dummy)).i(vssB, vssH, vssL)
                .mem(or(pageTable, dummy)).i(Math.max(pageSize, 1), pagesPerSeq)
                .mem(or(bias, dummy)).i(biasStrides)
                .mem(or(mask, dummy)).i(maskStrides)
                .mem(or(slopes, dummy)).mem(or(sinks, dummy)).mem(or(kvLens, dummy))
                .mem(target).i(tsS, tsB, tsH, tsL)
                .mem(or(lse, dummy)).mem(partM).mem(partL)
                .i(batch, hq, hkv, qLen, kvLen, d, dv)
                .real(spec.effectiveScale()).real(spec.softcap())
                .i(flags, spec.window().left(), spec.window().right())
                .i(tq, tk, s, splitLen)
                .local((long) tq * d).local((long) tk * d).local((long) tk * dv).local((long) tq * dv)
                .local((long) tq * tk).local(3L * tq);
        KernelArgs.launch1d(scope.context(), ks.attend, "attend", groups * s * ks.attendWg, ks.attendWg);
        if (s > 1) {
            new KernelArgs(ks.merge, "merge_splits", ks.real)
                    .mem(target).mem(partM).mem(partL).mem(or(sinks, dummy))
                    .mem(out).i(osB, osH, osL).mem(or(lse, dummy))
                    .i(batch, hq, qLen, dv, s, flags);
            KernelArgs.launch1d(scope.context(), ks.merge, "merge_splits", KernelArgs.roundUp(rows * dv, ks.mergeWg), ks.mergeWg);
        }
        return s;
    }

    /**
     * Splits the keys when the (batch, KV head, row tile) work-groups alone would leave the device idle: aim for
     * about four work-groups per compute unit, each split at least one key tile, at most 64 splits.
     */
    private int autoSplits(KernelSet ks, long groups, int tileK) {
        long target = 4L * Math.max(1, ks.ctx.device().computeUnits());
        if (groups >= target || kvLen <= tileK) return 1;
        long want = (target + groups - 1) / groups;
        return (int) Math.min(64, Math.min(want, ((long) kvLen + tileK - 1) / tileK));
    }

    private static long or(long mem, long dummy) {
        return mem != 0 ? mem : dummy;
    }
}
