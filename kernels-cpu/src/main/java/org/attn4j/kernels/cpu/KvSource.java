package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.PagedKvCache;
import org.attn4j.api.Tensor;
import org.attn4j.api.TiledKvCache;

/**
 * Where the keys and values of one call live, read in place: dense tensors, a contiguous cache slab, or cache
 * pages. Key {@code j} of sequence {@code b}, KV head {@code h} starts at {@link #kRow}; rows {@code j ..
 * j + run(b, j) - 1} follow at a fixed stride ({@link #kStride}/{@link #vStride}). The engine asks once per
 * tile, never per element. For a latent (MLA) cache the values are the first {@code vHeadDim} columns of the
 * key rows ({@code v == k}).
 */
abstract sealed class KvSource permits KvSource.Strided, KvSource.Paged, KvSource.Tiled {
    final float[] k;
    final float[] v;
    final int kStride;
    final int vStride;
    final int[] lengths;

    private KvSource(float[] k, float[] v, int kStride, int vStride, int[] lengths) {
        this.k = k;
        this.v = v;
        this.kStride = kStride;
        this.vStride = vStride;
        this.lengths = lengths;
    }

    final int length(int b) {
        return lengths[b];
    }

    final int maxLength() {
        int m = 0;
        for (int len : lengths) m = Math.max(m, len);
        return m;
    }

    /**
     * Where key {@code j} starts. Row-major sources: its {@code headDim} floats follow at unit stride. Transposed
     * sources ({@link #keysTransposed}): its first element; element {@code e} is {@link #ktStride} {@code * e}
     * further, and key {@code j + 1} (within the same {@link #run}) is the next float.
     */
    abstract int kRow(int b, int kvh, int j);

    /** Whether keys are stored transposed ({@code [headDim][tile]} blocks), to be scored with broadcast queries. */
    boolean keysTransposed() {
        return false;
    }

    /** For transposed keys: the distance between two head-dim elements of one key. */
    int ktStride() {
        return 0;
    }

    abstract int vRow(int b, int kvh, int j);

    /** How many rows from {@code j} on are evenly strided (to the end of a page); at least 1. */
    abstract int run(int b, int j);

    /** Dense {@code [B, H, L, D]} views with any batch/head/length strides and unit element stride. */
    static final class Strided extends KvSource {
        private final int kOff, kSB, kSH;
        private final int vOff, vSB, vSH;

        Strided(float[] k, int kOff, int kSB, int kSH, int kSL, float[] v, int vOff, int vSB, int vSH, int vSL, int[] lengths) {
            super(k, v, kSL, vSL, lengths);
            this.kOff = kOff;
            this.kSB = kSB;
            this.kSH = kSH;
            this.vOff = vOff;
            this.vSB = vSB;
            this.vSH = vSH;
        }

        @Override
        int kRow(int b, int kvh, int j) {
            return kOff + b * kSB + kvh * kSH + j * kStride;
        }

        @Override
        int vRow(int b, int kvh, int j) {
            return vOff + b * vSB + kvh * vSH + j * vStride;
        }

        @Override
        int run(int b, int j) {
            return Integer.MAX_VALUE;
        }
    }

    /** Pages {@code [pageCount, kvHeads, pageSize, D]} and one block table per sequence. */
    static final class Paged extends KvSource {
        private final int[][] tables;
        private final int pageSize;
        private final int kOff, kPage, kHead;
        private final int vOff, vPage, vHead;

        Paged(float[] k, int kOff, int kPage, int kHead, int kSlot, float[] v, int vOff, int vPage, int vHead, int vSlot,
              int pageSize, int[][] tables, int[] lengths) {
            super(k, v, kSlot, vSlot, lengths);
            this.tables = tables;
            this.pageSize = pageSize;
            this.kOff = kOff;
            this.kPage = kPage;
            this.kHead = kHead;
            this.vOff = vOff;
            this.vPage = vPage;
            this.vHead = vHead;
        }

        @Override
        int kRow(int b, int kvh, int j) {
            return kOff + tables[b][j / pageSize] * kPage + kvh * kHead + (j % pageSize) * kStride;
        }

        @Override
        int vRow(int b, int kvh, int j) {
            return vOff + tables[b][j / pageSize] * vPage + kvh * vHead + (j % pageSize) * vStride;
        }

        @Override
        int run(int b, int j) {
            return pageSize - j % pageSize;
        }
    }

    /**
     * A {@link TiledKvCache}: key tiles {@code [seqs, kvHeads, tiles, D, tile]} (a run ends at the end of a tile),
     * values {@code [seqs, kvHeads, maxLen, Dv]}.
     */
    static final class Tiled extends KvSource {
        private final int tile;
        private final int kOff, kSB, kSH, kTile, kDim;
        private final int vOff, vSB, vSH;

        Tiled(FloatTensor keyTiles, FloatTensor values, int tile, int[] lengths) {
            super(keyTiles.data(), values.data(), 1, values.stride(2), lengths);
            this.tile = tile;
            this.kOff = keyTiles.offset();
            this.kSB = keyTiles.stride(0);
            this.kSH = keyTiles.stride(1);
            this.kTile = keyTiles.stride(2);
            this.kDim = keyTiles.stride(3);
            this.vOff = values.offset();
            this.vSB = values.stride(0);
            this.vSH = values.stride(1);
        }

        @Override
        int kRow(int b, int kvh, int j) {
            return kOff + b * kSB + kvh * kSH + (j / tile) * kTile + j % tile;
        }

        @Override
        int vRow(int b, int kvh, int j) {
            return vOff + b * vSB + kvh * vSH + j * vStride;
        }

        @Override
        int run(int b, int j) {
            return tile - j % tile;
        }

        @Override
        boolean keysTransposed() {
            return true;
        }

        @Override
        int ktStride() {
            return kDim;
        }
    }

    /** Whether a tensor's last axis can be read as a plain run of floats. */
    static boolean rowContiguous(Tensor t) {
        return t instanceof FloatTensor && (t.size(t.rank() - 1) <= 1 || t.stride(t.rank() - 1) == 1);
    }

    /** A float tensor whose last axis has unit stride: {@code t} itself when it already is one, else a contiguous copy. */
    static FloatTensor rowContiguousFloat(Tensor t) {
        return rowContiguous(t) ? (FloatTensor) t : FloatTensor.copyOf(t);
    }

    /**
     * Dense keys {@code [B, H, L, D]} and values {@code [B, H, L, Dv]} (any strides, float32 or float64:
     * float32 views are read in place, others are converted once).
     */
    static Strided dense(Tensor keys, Tensor values, int[] lengths) {
        FloatTensor k = rowContiguousFloat(keys);
        FloatTensor v = values == keys ? k : rowContiguousFloat(values);
        return new Strided(k.data(), k.offset(), k.stride(0), k.stride(1), k.stride(2),
                v.data(), v.offset(), v.stride(0), v.stride(1), v.stride(2), lengths);
    }

    /**
     * Reads a cache in place when it is a float32 {@link ContiguousKvCache} or {@link PagedKvCache}; any other
     * cache is copied (one float32 copy of what it holds). {@code latent}: the values are the key rows
     * ({@code vHeadDim == 0} caches of MLA).
     */
    static KvSource ofCache(KvCache cache, boolean latent) {
        int seqs = cache.sequences();
        int[] lengths = new int[seqs];
        for (int s = 0; s < seqs; s++) lengths[s] = cache.length(s);
        if (cache.dtype() == DType.FLOAT32 && cache instanceof ContiguousKvCache c
                && c.keyStore() instanceof FloatTensor ks && rowContiguous(ks)) {
            FloatTensor vs = latent ? ks : (FloatTensor) c.valueStore();
            if (latent || rowContiguous(vs)) {
                return new Strided(ks.data(), ks.offset(), ks.stride(0), ks.stride(1), ks.stride(2),
                        vs.data(), vs.offset(), vs.stride(0), vs.stride(1), vs.stride(2), lengths);
            }
        }
        if (cache.dtype() == DType.FLOAT32 && cache instanceof PagedKvCache p
                && p.keyPages() instanceof FloatTensor kp && rowContiguous(kp)) {
            FloatTensor vp = latent ? kp : (FloatTensor) p.valuePages();
            if (latent || rowContiguous(vp)) {
                int[][] tables = new int[seqs][];
                for (int s = 0; s < seqs; s++) tables[s] = p.blockTable(s);
                return new Paged(kp.data(), kp.offset(), kp.stride(0), kp.stride(1), kp.stride(2),
                        vp.data(), vp.offset(), vp.stride(0), vp.stride(1), vp.stride(2), p.pageSize(), tables, lengths);
            }
        }
        if (!latent && cache.dtype() == DType.FLOAT32 && cache instanceof TiledKvCache t
                && t.keyTiles() instanceof FloatTensor kt && kt.stride(4) == 1 && t.valueStore() instanceof FloatTensor vs
                && rowContiguous(vs)) {
            return new Tiled(kt, vs, t.tile(), lengths);
        }
        return copyOf(cache, latent, lengths);
    }

    /** One dense float32 copy {@code [seqs, kvHeads, maxLen, D]} of any cache. */
    private static Strided copyOf(KvCache cache, boolean latent, int[] lengths) {
        int seqs = cache.sequences();
        int h = cache.kvHeads();
        int len = 0;
        for (int l : lengths) len = Math.max(len, l);
        int d = cache.headDim();
        int dv = latent ? 0 : cache.vHeadDim();
        AttentionException.require(latent || dv > 0, "cache.vHeadDim", "> 0 for attention over K and V", dv);
        float[] k = new float[Tensor.elementCount(seqs, h, len, d)];
        float[] v = latent ? k : new float[Tensor.elementCount(seqs, h, len, dv)];
        for (int s = 0; s < seqs; s++) {
            copyRows(cache.keys(s), k, s * h * len * d, len * d, d);
            if (!latent) copyRows(cache.values(s), v, s * h * len * dv, len * dv, dv);
        }
        return latent
                ? new Strided(k, 0, h * len * d, len * d, d, k, 0, h * len * d, len * d, d, lengths)
                : new Strided(k, 0, h * len * d, len * d, d, v, 0, h * len * dv, len * dv, dv, lengths);
    }

    /** {@code src [H, n, w]} into {@code dst} at {@code off + h*headStride + j*w}. */
    private static void copyRows(Tensor src, float[] dst, int off, int headStride, int w) {
        int heads = src.size(0);
        int n = src.size(1);
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < n; j++) {
                for (int e = 0; e < w; e++) {
                    dst[off + h * headStride + j * w + e] = (float) src.getDouble(h, j, e);
                }
            }
        }
    }
}
