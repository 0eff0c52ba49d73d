package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;

import org.attn4j.api.Tensor;

import org.attn4j.api.Float32Range;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * FlashAttention-2 style attention in float32 (FORMAT.md semantics).
 *
 * <p><b>Decomposition.</b> A work item is {@code (batch, KV head, query tile, KV split)}. Its rows are all
 * query heads of the KV group times the queries of the tile, so every key/value tile is read once for the
 * whole group. The item walks its keys in tiles of {@link CpuTuning#kvTile()} (twice that for a prefill with
 * {@code headDim <= 64}, so that a K tile stays ~32 KB) with an online softmax: per
 * row a running max {@code m}, a running sum {@code l} and an unnormalised output accumulator, rescaled
 * when {@code m} grows. Tiles outside the causal/window band of every row of the item are never visited;
 * inside a tile each row only scores the keys it can see. Per tile, every row block of the item is scored
 * first and then softmaxed and multiplied by V, so that the K tile and then the V tile stay in L1 across the
 * blocks. Memory is O(item rows x tile): scores live in a {@code rows x tile} scratch, never {@code Lq x Lk}.
 *
 * <p><b>Keys.</b> With many query rows per group (prefill) the keys are packed once per call, transposed per
 * tile of {@code tile} keys to {@code [D][tile]}, and scored by broadcasting query elements over key columns
 * (no horizontal sums). A {@link org.attn4j.api.TiledKvCache} (the cpu backend's own cache) already stores keys
 * that way, so decode over it scores the same way with no packing and reads the keys as one sequential stream. With
 * few rows over any other source (decode over a contiguous or paged cache) keys are read in place,
 * row-major, with one horizontal sum per key and query row. Values are always read in place.
 *
 * <p><b>Split-KV.</b> When there are too few items to feed the threads (decode), the key range is cut into
 * splits; each produces {@code (out, m, l)} partials which are merged exactly, in split order:
 * {@code M = max m_s}, {@code l = sum l_s e^(m_s - M)}, {@code out = sum out_s e^(m_s - M) / l}.
 *
 * <p>The decomposition depends only on shapes and {@link CpuTuning}, and every sum runs in a fixed order,
 * so repeated runs are bit-identical whatever the number of threads.
 */
final class FlashEngine {
    private static final int ROW_BLOCK = 4; // query rows scored together (they share key and value loads)
    private static final int PACK_BLOCK = 64; // keys per transposition block (fits L1)

    private final CpuKernelSupport k;
    private final CpuTuning tuning;
    private final WorkerPool pool;

    FlashEngine(CpuKernelSupport k, CpuTuning tuning, WorkerPool pool) {
        this.k = k;
        this.tuning = tuning;
        this.pool = pool;
    }

    CpuKernelSupport kernels() {
        return k;
    }

    CpuTuning tuning() {
        return tuning;
    }

    WorkerPool pool() {
        return pool;
    }

    /** How one call is cut into work items. */
    private static final class Layout {
        int group;
        int tile;        // keys per step (and per packed tile)
        int bq;          // queries per tile
        int qTiles;
        int rows;        // bq * group: rows of one item
        int splits;
        int splitLen;    // keys per split
        boolean packed;  // keys packed by this call into kt, rather than read from a tiled cache's store
        float[] kt;      // transposed keys, scored with the broadcast kernel: [B, Hkv, tiles, D, tile] when packed,
                         // the cache's key tiles when the source is transposed; null when keys are read row-major
        int ktStride;    // consecutive elements of one key are ktStride apart in kt (a tile's length)
        int ktItem;      // floats per (batch, KV head) when packed
        float[] partO;   // [B, Hq, Lq, splits, Dv] when splits > 1
        float[] partM;
        float[] partL;
    }

    /** Per-thread scratch, made once per call and thread. */
    private static final class Scratch {
        final float[] o;
        final float[] m;
        final float[] l;
        final float[] s;
        final float[] alpha = new float[ROW_BLOCK];
        float touched; // see touchAhead
        final int[] lo;
        final int[] hi;

        Scratch(int rows, int dv, int tile, int bq, int group) {
            o = new float[Math.max(rows, 1) * dv];
            m = new float[rows];
            l = new float[rows];
            // the scores of every row block of a tile: blocks of heads (per query) when group >= ROW_BLOCK, else
            // blocks of queries (per head), or of heads when a tile has no more queries than the group has heads
            // (nq * 1 block <= group <= group * ceil(bq / ROW_BLOCK))
            int blocks = group >= ROW_BLOCK ? bq * ceilDiv(group, ROW_BLOCK) : group * ceilDiv(bq, ROW_BLOCK);
            s = new float[Math.max(blocks, 1) * ROW_BLOCK * tile];
            lo = new int[bq];
            hi = new int[bq];
        }
    }

    /**
     * Runs one validated call and checks that its result stayed within float32 (see {@link Float32Range}): a non-finite
     * output or lse element, or a row that sees keys but came out empty while the inputs' bounds allow an overflow,
     * throws an {@link AttentionException} naming the inputs out of range. {@code inputs} is only evaluated on that
     * rare path (it may read a whole KV cache). The outputs are the call's own fresh buffers, which the caller drops.
     */
    void run(AttentionCall c, Supplier<Float32Range.Magnitudes> inputs, String what) {
        run(c);
        boolean nonFinite = !finiteResult(c);
        if (!nonFinite && !c.emptyRowSawKeys) return;
        Float32Range.Magnitudes m = inputs.get();
        if (nonFinite || !m.beyondRange().isEmpty()) throw Float32Range.overflow(CpuBackend.NAME, what, m);
    }

    /**
     * The magnitudes of a call's own buffers (queries, and the key/value arrays it reads, padding included): for
     * callers whose attention inputs are intermediates, such as a layer's projections. The failure path only.
     */
    static Float32Range.Magnitudes magnitudesOf(AttentionCall c, String q, String k, String v) {
        return new Float32Range.Magnitudes(c.scale, c.headDim, c.qLen, c.kv.maxLength())
                .q(q, Float32Range.maxAbs(c.q, 0, c.q.length))
                .k(k, Float32Range.maxAbs(c.kv.k, 0, c.kv.k.length))
                .v(v, Float32Range.maxAbs(c.kv.v, 0, c.kv.v.length));
    }

    /** One scan of the outputs: every out element finite, every lse element finite or -inf (an empty row). */
    private static boolean finiteResult(AttentionCall c) {
        for (int b = 0; b < c.batch; b++) {
            for (int h = 0; h < c.qHeads; h++) {
                for (int i = 0; i < c.qLen; i++) {
                    int at = c.outOff + b * c.outSB + h * c.outSH + i * c.outSL;
                    for (int e = 0; e < c.vHeadDim; e++) {
                        if (!Float.isFinite(c.out[at + e])) return false;
                    }
                }
            }
        }
        if (c.lse != null) {
            for (float x : c.lse) {
                if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) return false;
            }
        }
        return true;
    }

    /** Whether query {@code i} of head {@code h} sees at least one key (FORMAT.md visibility, mask and mask mod). */
    private static boolean rowSeesKey(AttentionCall c, int b, int h, int i) {
        int len = c.kv.length(b);
        long v = visible(c, diagonal(c, i, len), len);
        int lo = (int) (v >>> 32);
        int hi = (int) (v & 0xffffffffL);
        for (int j = lo; j < hi; j++) {
            if (c.mask != null && !c.mask[c.maskOff + b * c.maskSB + h * c.maskSH + i * c.maskSL + j * c.maskSK]) continue;
            if (c.maskMod != null && !c.maskMod.visible(b, h, i, j)) continue;
            return true;
        }
        return false;
    }

    /** Runs one validated call; writes every output row (empty rows get 0 and -inf / the sink). */
    void run(AttentionCall c) {
        pool.ensureOpen();
        if (c.qLen == 0) return;
        Layout lay = layout(c);
        int bh = c.batch * c.kvHeads;
        if (lay.packed) pool.forEach(bh, () -> null, (item, unused) -> packTransposed(c, lay, item));
        int base = bh * lay.qTiles;
        pool.forEach(base * lay.splits, () -> new Scratch(lay.rows, c.vHeadDim, lay.tile, lay.bq, lay.group),
                (item, s) -> attend(c, lay, item, s));
        if (lay.splits > 1) {
            pool.forEach(base, () -> new Scratch(1, c.vHeadDim, 1, 1, 1), (item, s) -> merge(c, lay, item, s));
        }
    }

    private Layout layout(AttentionCall c) {
        Layout lay = new Layout();
        int g = c.group();
        int maxLen = c.kv.maxLength();
        lay.group = g;
        lay.bq = Math.max(1, Math.min(c.qLen, tuning.queryRows() / g));
        lay.qTiles = ceilDiv(c.qLen, lay.bq);
        lay.rows = lay.bq * g;
        // Keys per step: kvTile, or twice that when prefill packs keys of d <= 64, so that a packed K tile is
        // still ~32 KB (P2, d 64: about 9 % faster with 128 keys than with 64; P1, d 128, slower with 128)
        boolean prefill = !c.kv.keysTransposed() && (long) g * c.qLen >= tuning.transposeRows();
        lay.tile = prefill && c.headDim <= 64 ? 2 * tuning.kvTile() : tuning.kvTile();
        long base = (long) c.batch * c.kvHeads * lay.qTiles;
        int splits = 1;
        int splitLen = Math.max(maxLen, 1);
        if (base < tuning.targetItems() && maxLen > 0) {
            long want = (tuning.targetItems() + base - 1) / base;
            long byLen = Math.max(1, maxLen / tuning.minSplitKeys());
            splits = (int) Math.min(Math.min(want, byLen), tuning.maxSplits());
            if (splits > 1) {
                splitLen = roundUp(ceilDiv(maxLen, splits), lay.tile);
                splits = ceilDiv(maxLen, splitLen);
            }
            long partials = (long) c.batch * c.qHeads * c.qLen * splits * c.vHeadDim;
            if (partials > Tensor.MAX_ELEMENTS) {
                splits = 1;
                splitLen = maxLen;
            }
        }
        lay.splits = splits;
        lay.splitLen = splitLen;
        if (splits > 1) {
            int n = c.batch * c.qHeads * c.qLen * splits;
            lay.partO = new float[n * c.vHeadDim];
            lay.partM = new float[n];
            lay.partL = new float[n];
        }
        if (c.kv.keysTransposed()) { // a tiled cache: its store already is what packing would make
            lay.kt = c.kv.k;
            lay.ktStride = c.kv.ktStride();
            return lay;
        }
        // packed keys in the TiledKvCache layout, [B, Hkv, tiles, D, tile]: a tile is one contiguous block. (One
        // [D][L] matrix per head had rows 4 KB x 2^k apart for power-of-two lengths, so every row of a tile fell into
        // the same few L1 sets and the scores kernel read K from L2.)
        int tile = lay.tile;
        long ktItem = (long) ceilDiv(maxLen, tile) * c.headDim * tile;
        long ktSize = (long) c.batch * c.kvHeads * ktItem;
        lay.packed = maxLen > 0 && prefill && ktSize <= Tensor.MAX_ELEMENTS;
        if (lay.packed) {
            lay.ktStride = tile;
            lay.ktItem = (int) ktItem;
            lay.kt = new float[(int) ktSize];
        }
        return lay;
    }

    /** Where key {@code j}'s first element is in the packed keys of (batch, KV head) {@code bh}. */
    private int packedRow(AttentionCall c, Layout lay, int bh, int j) {
        int tile = lay.tile;
        return bh * lay.ktItem + (j / tile) * c.headDim * tile + j % tile;
    }

    /** Keys of one (batch, KV head) into its {@code [tiles][D][tile]} part of {@code kt}, a run of rows at a time. */
    private void packTransposed(AttentionCall c, Layout lay, int item) {
        int b = item / c.kvHeads;
        int kvh = item % c.kvHeads;
        int d = c.headDim;
        int tile = lay.tile;
        int len = c.kv.length(b);
        float[] src = c.kv.k;
        int stride = c.kv.kStride;
        for (int j0 = 0; j0 < len; ) {
            int n = Math.min(len - j0, PACK_BLOCK);
            n = Math.min(n, c.kv.run(b, j0));
            n = Math.min(n, tile - j0 % tile);
            int row = c.kv.kRow(b, kvh, j0);
            int dst0 = packedRow(c, lay, item, j0);
            for (int e = 0; e < d; e++) {
                int dst = dst0 + e * tile;
                int from = row + e;
                for (int jj = 0; jj < n; jj++) lay.kt[dst + jj] = src[from + jj * stride];
            }
            j0 += n;
        }
    }

    /** Key {@code j} is visible to query {@code i} iff {@code lo <= j < hi} (before the mask); {@code [lo, hi)} packed in a long. */
    private static long visible(AttentionCall c, long di, int len) {
        long lo = 0;
        long hi = len;
        if (c.causal) hi = Math.min(hi, di + 1);
        if (c.windowLeft >= 0) lo = Math.max(lo, di - c.windowLeft);
        if (c.windowRight >= 0) hi = Math.min(hi, di + c.windowRight + 1);
        return lo >= hi ? 0 : (lo << 32) | hi; // lo, hi in [0, len]
    }

    private static long diagonal(AttentionCall c, int i, int len) {
        return c.bottomRight ? (long) i + len - c.qLen : i;
    }

    private void attend(AttentionCall c, Layout lay, int item, Scratch s) {
        // heavy (late, causal) query tiles first for load balance; the mapping does not affect results
        int per = c.batch * c.kvHeads * lay.splits;
        int tile = lay.qTiles - 1 - item / per;
        int rem = item % per;
        int split = rem % lay.splits;
        int b = rem / lay.splits / c.kvHeads;
        int kvh = rem / lay.splits % c.kvHeads;

        int g = lay.group;
        int dv = c.vHeadDim;
        int tileLen = lay.tile;
        int i0 = tile * lay.bq;
        int nq = Math.min(lay.bq, c.qLen - i0);
        int rows = nq * g;
        int len = c.kv.length(b);
        long ks = (long) split * lay.splitLen;
        long ke = Math.min(len, ks + lay.splitLen);

        Arrays.fill(s.o, 0, rows * dv, 0f);
        Arrays.fill(s.m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.l, 0, rows, 0f);
        int jStart = Integer.MAX_VALUE;
        int jEnd = 0;
        for (int ii = 0; ii < nq; ii++) {
            long v = visible(c, diagonal(c, i0 + ii, len), len);
            long lo = Math.max(v >>> 32, ks);
            long hi = Math.min(v & 0xffffffffL, ke);
            if (lo >= hi) {
                lo = 0;
                hi = 0;
            }
            s.lo[ii] = (int) lo;
            s.hi[ii] = (int) hi;
            if (lo < hi) {
                jStart = Math.min(jStart, (int) lo);
                jEnd = Math.max(jEnd, (int) hi);
            }
        }

        int hBase = kvh * g;
        int qBase = c.qOff + b * c.qSB + hBase * c.qSH;
        for (int j0 = jStart; j0 < jEnd; ) {
            int j1 = Math.min(jEnd - j0, tileLen);
            j1 = j0 + Math.min(j1, c.kv.run(b, j0));
            if (lay.packed) j1 = Math.min(j1, (j0 / tileLen + 1) * tileLen); // a block never crosses a packed tile
            int kRow = lay.packed ? packedRow(c, lay, b * c.kvHeads + kvh, j0) : c.kv.kRow(b, kvh, j0);
            int vRow = c.kv.vRow(b, kvh, j0);
            if (!lay.packed && j1 < jEnd && TOUCH_AHEAD) s.touched += touchAhead(c, b, kvh, j1, Math.min(jEnd - j1, tileLen));
            // Phase 0 scores every row block of the item against this tile, phase 1 runs the online softmax and P V
            // of each. One phase reads only K, the other only V, so a tile of either can stay in L1 across the blocks
            // (a d-128 K and V tile pair, 64 KB, does not fit L1 together). Its measured effect alone was within the
            // noise; scoring in smaller groups of blocks, or all softmaxes in a pass of their own, measured slower
            // (docs/PERFORMANCE.md).
            for (int phase = 0; phase < 2; phase++) {
                int sBase = 0; // block k's scores start at k * ROW_BLOCK * tileLen, the same k in both phases
                if (g >= ROW_BLOCK || g >= nq) {
                    // blocks of query heads of one query: they share the visible range
                    for (int ii = 0; ii < nq; ii++) {
                        int a = Math.max(s.lo[ii], j0);
                        int z = Math.min(s.hi[ii], j1);
                        if (a >= z) continue;
                        int i = i0 + ii;
                        for (int g0 = 0; g0 < g; g0 += ROW_BLOCK) {
                            int r = Math.min(ROW_BLOCK, g - g0);
                            block(phase, sBase, c, lay, s, b, kvh, j0, kRow, vRow, a, z, r, hBase + g0, 1, i, 0,
                                    qBase + g0 * c.qSH + i * c.qSL, c.qSH, ii * g + g0, 1);
                            sBase += ROW_BLOCK * tileLen;
                        }
                    }
                } else {
                    // few heads per group (MHA): blocks of consecutive queries of one head, over the union of their ranges
                    for (int gh = 0; gh < g; gh++) {
                        for (int ii = 0; ii < nq; ii += ROW_BLOCK) {
                            int r = Math.min(ROW_BLOCK, nq - ii);
                            int a = Integer.MAX_VALUE;
                            int z = Integer.MIN_VALUE;
                            for (int rr = 0; rr < r; rr++) {
                                int lo = Math.max(s.lo[ii + rr], j0);
                                int hi = Math.min(s.hi[ii + rr], j1);
                                if (lo < hi) {
                                    a = Math.min(a, lo);
                                    z = Math.max(z, hi);
                                }
                            }
                            if (a >= z) continue;
                            block(phase, sBase, c, lay, s, b, kvh, j0, kRow, vRow, a, z, r, hBase + gh, 0, i0 + ii, ii,
                                    qBase + gh * c.qSH + (i0 + ii) * c.qSL, c.qSL, ii * g + gh, g);
                            sBase += ROW_BLOCK * tileLen;
                        }
                    }
                }
            }
            j0 = j1;
        }

        for (int ii = 0; ii < nq; ii++) {
            int i = i0 + ii;
            for (int gh = 0; gh < g; gh++) {
                int row = ii * g + gh;
                int h = hBase + gh;
                if (lay.splits == 1) {
                    finish(c, b, h, i, s.o, row * dv, s.m[row], s.l[row]);
                } else {
                    int p = ((b * c.qHeads + h) * c.qLen + i) * lay.splits + split;
                    System.arraycopy(s.o, row * dv, lay.partO, p * dv, dv);
                    lay.partM[p] = s.m[row];
                    lay.partL[p] = s.l[row];
                }
            }
        }
    }

    static final boolean TOUCH_AHEAD = !"false".equals(System.getProperty("attn4j.cpu.touchAhead"));

    /**
     * Reads one float of every cache line of the next tile's keys and values (decode over a cache, where K and V
     * come from DRAM). Java has no prefetch instruction; these loads start the misses for the next tile while
     * this one is computed, many at a time, which the hardware prefetchers alone do not (measured on D2:
     * see docs/PERFORMANCE.md). The sum is kept in the scratch so that the loads are not dead code. The single
     * chain of dependent adds is deliberate: it lets the touches trickle out while the tile is computed (eight
     * independent sums, issuing them all at once, were slower in a scratch test).
     */
    private static float touchAhead(AttentionCall c, int b, int kvh, int j, int n) {
        n = Math.min(n, c.kv.run(b, j));
        float sum = 0;
        float[] kk = c.kv.k;
        if (c.kv.keysTransposed()) { // one [D][tile] block: a contiguous range from the first key of the tile
            int from = c.kv.kRow(b, kvh, j);
            int to = from + (c.headDim - 1) * c.kv.ktStride() + n;
            for (int x = from; x < to; x += 16) sum += kk[x];
        } else {
            int row = c.kv.kRow(b, kvh, j);
            for (int r = 0; r < n; r++, row += c.kv.kStride) {
                for (int e = 0; e < c.headDim; e += 16) sum += kk[row + e];
            }
        }
        float[] vv = c.kv.v;
        int row = c.kv.vRow(b, kvh, j);
        for (int r = 0; r < n; r++, row += c.kv.vStride) {
            for (int e = 0; e < c.vHeadDim; e += 16) sum += vv[row + e];
        }
        return sum;
    }

    /**
     * One row block over keys {@code [a, z)} of the tile starting at {@code j0}: in phase 0 its scores (FORMAT.md
     * steps 1-4 and the visibility rules) into {@code s.s} from {@code sBase}, in phase 1 the online softmax of those
     * scores and {@code P V}. Row {@code rr} is query head {@code h0 + rr*hStep} and query {@code i0 + rr*(1 - hStep)}
     * (a block runs either across heads or across queries); its query starts at {@code qo + rr*qStride} and its
     * accumulator is row {@code row0 + rr*rowStep}. Keys of {@code [a, z)} outside a row's own range are hidden.
     */
    private void block(int phase, int sBase, AttentionCall c, Layout lay, Scratch s, int b, int kvh, int j0, int kRow, int vRow,
                       int a, int z, int r, int h0, int hStep, int i0, int ii0, int qo, int qStride, int row0, int rowStep) {
        int n = z - a;
        int c0 = a - j0;
        int d = c.headDim;
        int dv = c.vHeadDim;
        int tileLen = lay.tile;
        float[] sc = s.s;
        if (phase == 1) {
            // online softmax of all r rows together; P V rescales the accumulators by alpha as it loads them
            k.onlineSoftmax(r, n, sc, sBase, tileLen, s.m, s.l, row0, rowStep, s.alpha);
            k.accumulateRows(r, n, dv, sc, sBase, tileLen, c.kv.v, vRow + c0 * c.kv.vStride, c.kv.vStride, s.o, row0 * dv,
                    rowStep * dv, s.alpha);
            return;
        }
        if (lay.kt != null) {
            k.transposedScores(r, n, d, c.scale, c.q, qo, qStride, lay.kt, kRow + c0, lay.ktStride, sc, sBase, tileLen);
        } else {
            k.dotScores(r, n, d, c.scale, c.q, qo, qStride, c.kv.k, kRow + c0 * c.kv.kStride, c.kv.kStride, sc, sBase, tileLen);
        }
        int len = c.kv.length(b);
        for (int rr = 0; rr < r; rr++) {
            int off = sBase + rr * tileLen;
            int h = h0 + rr * hStep;
            int i = i0 + rr * (1 - hStep);
            postProcess(c, sc, off, n, b, h, i, a, diagonal(c, i, len));
            if (hStep == 0) { // query blocks: hide what this query cannot see
                int ii = ii0 + rr;
                int lo = Math.min(Math.max(s.lo[ii], a), z);
                int hi = Math.max(Math.min(s.hi[ii], z), lo);
                Arrays.fill(sc, off, off + (lo - a), Float.NEGATIVE_INFINITY);
                Arrays.fill(sc, off + (hi - a), off + n, Float.NEGATIVE_INFINITY);
            }
            if (c.scoreMod != null || c.maskMod != null) applyMods(c, sc, off, n, b, h, i, a);
        }
    }

    /** FORMAT.md steps 2-4 on scores {@code sc[off..off+n)} of keys {@code a..a+n-1} (step 1 was the kernel). */
    private void postProcess(AttentionCall c, float[] sc, int off, int n, int b, int h, int i, int a, long di) {
        if (c.softcap > 0) k.softcap(sc, off, n, c.softcap);
        if (c.bias != null) {
            k.addStrided(sc, off, n, c.bias, c.biasOff + b * c.biasSB + h * c.biasSH + i * c.biasSL + a * c.biasSK, c.biasSK);
        }
        if (c.alibi != null) {
            float slope = c.alibi[h];
            for (int cc = 0; cc < n; cc++) sc[off + cc] -= slope * (float) Math.abs(di - (a + cc));
        }
        if (c.mask != null) {
            int mo = c.maskOff + b * c.maskSB + h * c.maskSH + i * c.maskSL + a * c.maskSK;
            for (int cc = 0; cc < n; cc++) {
                if (!c.mask[mo + cc * c.maskSK]) sc[off + cc] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * The FlexAttention hooks, after every built-in visibility rule so that they only see visible keys (as the
     * reference calls them): the mask mod hides more keys, the score mod rewrites the rest. Scores are finite
     * until hidden, so -inf means "not visible".
     */
    private static void applyMods(AttentionCall c, float[] sc, int off, int n, int b, int h, int i, int a) {
        for (int cc = 0; cc < n; cc++) {
            if (sc[off + cc] == Float.NEGATIVE_INFINITY) continue;
            int j = a + cc;
            if (c.maskMod != null && !c.maskMod.visible(b, h, i, j)) {
                sc[off + cc] = Float.NEGATIVE_INFINITY;
                continue;
            }
            if (c.scoreMod != null) {
                double s = c.scoreMod.apply(sc[off + cc], b, h, i, j);
                if (!Double.isFinite(s)) {
                    throw AttentionException.invalid("scoreMod(b=" + b + ", h=" + h + ", i=" + i + ", j=" + j + ")",
                            "a finite score (hide keys with a maskMod)", s);
                }
                sc[off + cc] = (float) s;
            }
        }
    }

    /** Normalises one row into the output; {@code l == 0}: the row saw no key. */
    private void finish(AttentionCall c, int b, int h, int i, float[] o, int oOff, float m, double l) {
        int dv = c.vHeadDim;
        int dst = c.outOff + b * c.outSB + h * c.outSH + i * c.outSL;
        double lse;
        if (l == 0) {
            // rare: check (once per call) whether the row should have seen keys, i.e. its scores overflowed to -inf
            if (!c.emptyRowSawKeys && rowSeesKey(c, b, h, i)) c.emptyRowSawKeys = true;
            Arrays.fill(c.out, dst, dst + dv, 0f);
            lse = c.sinks != null ? c.sinks[h] : Double.NEGATIVE_INFINITY;
        } else {
            lse = m + StrictMath.log(l);
            float f;
            if (c.sinks != null) {
                // the sink is one more denominator term: lse = log(e^sink + e^m * l)
                double sink = c.sinks[h];
                double hi = Math.max(lse, sink);
                lse = hi + StrictMath.log(StrictMath.exp(lse - hi) + StrictMath.exp(sink - hi));
                f = (float) StrictMath.exp(m - lse);
            } else {
                f = (float) (1.0 / l);
            }
            k.scaleInto(o, oOff, dv, f, c.out, dst);
        }
        if (c.lse != null) c.lse[(b * c.qHeads + h) * c.qLen + i] = (float) lse;
    }

    /** Merges the split partials of one (batch, KV head, query tile) in split order. */
    private void merge(AttentionCall c, Layout lay, int item, Scratch s) {
        int tile = item % lay.qTiles;
        int bh = item / lay.qTiles;
        int b = bh / c.kvHeads;
        int kvh = bh % c.kvHeads;
        int dv = c.vHeadDim;
        int i0 = tile * lay.bq;
        int nq = Math.min(lay.bq, c.qLen - i0);
        for (int ii = 0; ii < nq; ii++) {
            int i = i0 + ii;
            for (int gh = 0; gh < lay.group; gh++) {
                int h = kvh * lay.group + gh;
                int p0 = ((b * c.qHeads + h) * c.qLen + i) * lay.splits;
                float mMax = Float.NEGATIVE_INFINITY;
                for (int sp = 0; sp < lay.splits; sp++) mMax = Math.max(mMax, lay.partM[p0 + sp]);
                Arrays.fill(s.o, 0, dv, 0f);
                double l = 0;
                if (mMax != Float.NEGATIVE_INFINITY) {
                    for (int sp = 0; sp < lay.splits; sp++) {
                        float ms = lay.partM[p0 + sp];
                        if (ms == Float.NEGATIVE_INFINITY) continue; // this split saw no key
                        double w = StrictMath.exp((double) ms - mMax);
                        l += lay.partL[p0 + sp] * w;
                        k.axpy((float) w, lay.partO, (p0 + sp) * dv, s.o, 0, dv);
                    }
                }
                finish(c, b, h, i, s.o, 0, mMax, l);
            }
        }
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    static int roundUp(int a, int b) {
        return ceilDiv(a, b) * b;
    }
}
