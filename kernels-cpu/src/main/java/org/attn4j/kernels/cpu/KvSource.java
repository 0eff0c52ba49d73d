package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.Float32Range;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.HalfTensor;
import org.attn4j.api.Int8Tensor;
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
 *
 * <p>Rows are stored as float32, float16/bfloat16 bits or int8 with a scale per row ({@link Store}); offsets and
 * strides count elements of whichever it is. Reduced rows are converted inside the kernels' dot and {@code P V}
 * loops, never widened up front: decode reads 2 or 1 bytes per element instead of 4.
 */
abstract sealed class KvSource permits KvSource.Strided, KvSource.Paged, KvSource.Tiled {
    /** The float32 keys and values, or null when {@link #ks}/{@link #vs} hold a reduced type. */
    final float[] k;
    final float[] v;
    final Store ks;
    final Store vs;
    final int kStride;
    final int vStride;
    final int[] lengths;

    private KvSource(Store ks, Store vs, int kStride, int vStride, int[] lengths) {
        this.ks = ks;
        this.vs = vs;
        this.k = ks.f;
        this.v = vs.f;
        this.kStride = kStride;
        this.vStride = vStride;
        this.lengths = lengths;
    }

    /**
     * The elements of keys or values: exactly one of {@code f} (float32), {@code h} (float16 or bfloat16 bits) and
     * {@code b} (int8, element {@code i} stands for {@code b[i] * scales[i / pitch]}) is set. An int8 row never
     * straddles two scale rows (checked where a store is made), so one scale per row is folded into the score or
     * the softmax weight instead of multiplying every element.
     */
    static final class Store {
        final DType dtype;
        final float[] f;
        final short[] h;
        final byte[] b;
        final float[] scales;
        final int pitch;

        private Store(DType dtype, float[] f, short[] h, byte[] b, float[] scales, int pitch) {
            this.dtype = dtype;
            this.f = f;
            this.h = h;
            this.b = b;
            this.scales = scales;
            this.pitch = pitch;
        }

        static Store of(float[] f) {
            return new Store(DType.FLOAT32, f, null, null, null, 0);
        }

        static Store of(Tensor t) {
            return switch (t) {
                case FloatTensor ft -> of(ft.data());
                case HalfTensor ht -> new Store(ht.dtype(), null, ht.bits(), null, null, 0);
                case Int8Tensor it -> new Store(DType.INT8, null, null, it.data(), it.scales(), it.rowPitch());
                default -> throw new IllegalArgumentException("no in-place store for " + t.dtype());
            };
        }

        int length() {
            return f != null ? f.length : h != null ? h.length : b.length;
        }

        /** Element {@code i} as float32 (int8: times its row's scale, rounded once). */
        float at(int i) {
            if (f != null) return f[i];
            if (b != null) return b[i] * scales[i / pitch];
            return dtype == DType.BFLOAT16 ? Float.intBitsToFloat(h[i] << 16) : Float.float16ToFloat(h[i]);
        }

        /**
         * Row {@code from .. from + w - 1} of a reduced store (float16, bfloat16 or int8; float32 keys are copied by
         * the caller directly) as float32 into {@code dst[dstOff + e * dstStride]}: prefill's key packing (keys
         * transposed once per call) converts reduced keys as it transposes them.
         */
        void widenRow(int from, int w, float[] dst, int dstOff, int dstStride) {
            if (b != null) {
                float sc = scales[from / pitch];
                for (int e = 0; e < w; e++) dst[dstOff + e * dstStride] = b[from + e] * sc;
            } else if (dtype == DType.BFLOAT16) {
                for (int e = 0; e < w; e++) dst[dstOff + e * dstStride] = Float.intBitsToFloat(h[from + e] << 16);
            } else {
                for (int e = 0; e < w; e++) dst[dstOff + e * dstStride] = Float.float16ToFloat(h[from + e]);
            }
        }

        /**
         * Loads one element per 64-byte line of {@code rows} rows of {@code w} elements from {@code row} (see
         * {@code FlashEngine.touchAhead}); returns their sum so that the loads are not dead code.
         */
        float touch(int row, int rows, int stride, int w) {
            float sum = 0;
            int step = 64 / elementBytes();
            for (int r = 0; r < rows; r++, row += stride) {
                for (int e = 0; e < w; e += step) sum += f != null ? f[row + e] : h != null ? h[row + e] : b[row + e];
            }
            return sum;
        }

        /** The largest magnitude of all elements (padding included): the overflow diagnosis only. */
        double maxAbs() {
            if (f != null) return Float32Range.maxAbs(f, 0, f.length);
            double m = 0;
            int n = length();
            for (int i = 0; i < n; i++) m = Math.max(m, Math.abs((double) at(i)));
            return m;
        }

        /** {@link CpuKernelSupport#dotScores} over key rows of this store (the int8 scale is folded into each score). */
        void dotScores(CpuKernelSupport kk, int rows, int n, int d, float scale, float[] q, int qOff, int qStride,
                       int kOff, int kStride, float[] s, int sOff, int sStride) {
            switch (dtype) {
                case FLOAT32 -> kk.dotScores(rows, n, d, scale, q, qOff, qStride, f, kOff, kStride, s, sOff, sStride);
                case INT8 -> kk.dotScoresInt8(rows, n, d, scale, q, qOff, qStride, b, scales, pitch, kOff, kStride,
                        s, sOff, sStride);
                default -> kk.dotScoresHalf(rows, n, d, scale, q, qOff, qStride, h, dtype == DType.BFLOAT16, kOff, kStride,
                        s, sOff, sStride);
            }
        }

        /** {@link CpuKernelSupport#accumulateRows} over value rows of this store (the int8 scale goes into each weight). */
        void accumulateRows(CpuKernelSupport kk, int rows, int n, int dv, float[] p, int pOff, int pStride, int vOff,
                            int vStride, float[] o, int oOff, int oStride, float[] oScale) {
            switch (dtype) {
                case FLOAT32 -> kk.accumulateRows(rows, n, dv, p, pOff, pStride, f, vOff, vStride, o, oOff, oStride, oScale);
                case INT8 -> kk.accumulateRowsInt8(rows, n, dv, p, pOff, pStride, b, scales, pitch, vOff, vStride,
                        o, oOff, oStride, oScale);
                default -> kk.accumulateRowsHalf(rows, n, dv, p, pOff, pStride, h, dtype == DType.BFLOAT16, vOff, vStride,
                        o, oOff, oStride, oScale);
            }
        }

        /** Bytes of one element as stored (int8's 4-byte scale per row is counted by the caller). */
        int elementBytes() {
            return switch (dtype) {
                case FLOAT32 -> 4;
                case INT8 -> 1;
                default -> 2;
            };
        }
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
            this(Store.of(k), kOff, kSB, kSH, kSL, v == k ? null : Store.of(v), vOff, vSB, vSH, vSL, lengths);
        }

        /** {@code v == null}: the values are the key store (a latent cache). */
        Strided(Store k, int kOff, int kSB, int kSH, int kSL, Store v, int vOff, int vSB, int vSH, int vSL, int[] lengths) {
            super(k, v == null ? k : v, kSL, vSL, lengths);
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

        Paged(Store k, int kOff, int kPage, int kHead, int kSlot, Store v, int vOff, int vPage, int vHead, int vSlot,
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

        /** float32, float16 or bfloat16 tiles (keys and values of one type), element stride 1. */
        Tiled(Tensor keyTiles, Tensor values, int tile, int[] lengths) {
            super(Store.of(keyTiles), Store.of(values), 1, values.stride(2), lengths);
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
        return t instanceof FloatTensor && unitRows(t);
    }

    private static boolean unitRows(Tensor t) {
        return t.size(t.rank() - 1) <= 1 || t.stride(t.rank() - 1) == 1;
    }

    /**
     * Whether the kernels can read {@code t}'s rows in place: float32, float16 or bfloat16 with a unit-stride last
     * axis, or int8 whose every row also lies within one scale row (so that one scale per row holds).
     */
    static boolean readableInPlace(Tensor t) {
        if (!unitRows(t)) return false;
        if (t instanceof FloatTensor || t instanceof HalfTensor) return true;
        if (!(t instanceof Int8Tensor i)) return false;
        int pitch = i.rowPitch();
        int w = t.size(t.rank() - 1);
        if (t.offset() % pitch + w > pitch) return false;
        for (int a = 0; a < t.rank() - 1; a++) {
            if (t.size(a) > 1 && t.stride(a) % pitch != 0) return false;
        }
        return true;
    }

    /** A float tensor whose last axis has unit stride: {@code t} itself when it already is one, else a contiguous copy. */
    static FloatTensor rowContiguousFloat(Tensor t) {
        return rowContiguous(t) ? (FloatTensor) t : FloatTensor.copyOf(t);
    }

    /** {@code t} when its rows can be read in place, else a float32 copy (strided or mixed-scale views only). */
    private static Tensor inPlace(Tensor t) {
        return readableInPlace(t) ? t : FloatTensor.copyOf(t);
    }

    /**
     * Dense keys {@code [B, H, L, D]} and values {@code [B, H, L, Dv]} (any strides; float32, float16, bfloat16 and
     * int8 views with unit-stride rows are read in place, others are converted once).
     */
    static Strided dense(Tensor keys, Tensor values, int[] lengths) {
        Tensor k = inPlace(keys);
        Tensor v = values == keys ? k : inPlace(values);
        return new Strided(Store.of(k), k.offset(), k.stride(0), k.stride(1), k.stride(2),
                v == k ? null : Store.of(v), v.offset(), v.stride(0), v.stride(1), v.stride(2), lengths);
    }

    /**
     * Reads a cache in place when it is a {@link ContiguousKvCache} or {@link PagedKvCache} of any storage type the
     * kernels read (float32, float16, bfloat16, int8) or a float32, float16 or bfloat16 {@link TiledKvCache}; any other cache is copied
     * (one float32 copy of what it holds). {@code latent}: the values are the key rows ({@code vHeadDim == 0} caches
     * of MLA).
     */
    static KvSource ofCache(KvCache cache, boolean latent) {
        int seqs = cache.sequences();
        int[] lengths = new int[seqs];
        for (int s = 0; s < seqs; s++) lengths[s] = cache.length(s);
        if (cache instanceof ContiguousKvCache c && readableInPlace(c.keyStore())
                && (latent || readableInPlace(c.valueStore()))) {
            Tensor ks = c.keyStore();
            Tensor vs = latent ? ks : c.valueStore();
            return new Strided(Store.of(ks), ks.offset(), ks.stride(0), ks.stride(1), ks.stride(2),
                    latent ? null : Store.of(vs), vs.offset(), vs.stride(0), vs.stride(1), vs.stride(2), lengths);
        }
        if (cache instanceof PagedKvCache p && readableInPlace(p.keyPages()) && (latent || readableInPlace(p.valuePages()))) {
            Tensor kp = p.keyPages();
            Tensor vp = latent ? kp : p.valuePages();
            int[][] tables = new int[seqs][];
            for (int s = 0; s < seqs; s++) tables[s] = p.blockTable(s);
            Store ks = Store.of(kp);
            return new Paged(ks, kp.offset(), kp.stride(0), kp.stride(1), kp.stride(2),
                    latent ? ks : Store.of(vp), vp.offset(), vp.stride(0), vp.stride(1), vp.stride(2), p.pageSize(), tables, lengths);
        }
        if (!latent && cache instanceof TiledKvCache t && (t.dtype() == DType.FLOAT32 || t.dtype() == DType.FLOAT16
                || t.dtype() == DType.BFLOAT16) && t.keyTiles().stride(4) == 1 && readableInPlace(t.valueStore())) {
            return new Tiled(t.keyTiles(), t.valueStore(), t.tile(), lengths);
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
