package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.Float32Range;
import org.attn4j.api.Tensor;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
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
    private static final int MAX_CACHED_LAYOUTS = 64; // decode grows the KV length every step: keep the cache small

    private final CpuKernelSupport k;
    private final CpuTuning tuning;
    private final WorkerPool pool;
    /** Layouts of the shapes this plan has run; a plan may be run with other batches and lengths, by many threads. */
    private final ConcurrentHashMap<Shape, Layout> layouts = new ConcurrentHashMap<>();
    /** Scratch of earlier calls, taken by one thread at a time (as many as ever ran at once) and then handed back. */
    private final ConcurrentLinkedDeque<Scratch> spareScratch = new ConcurrentLinkedDeque<>();

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

    /** What a {@link Layout} depends on: the sizes of a call and whether its keys already are transposed. */
    private record Shape(int batch, int qHeads, int kvHeads, int qLen, int maxKvLen, int headDim, int vHeadDim,
                         boolean keysTransposed) {
        static Shape of(AttentionCall c) {
            return new Shape(c.batch, c.qHeads, c.kvHeads, c.qLen, c.kv.maxLength(), c.headDim, c.vHeadDim,
                    c.kv.keysTransposed());
        }
    }

    /**
     * How calls of one {@link Shape} are cut into work items.
     *
     * @param group    query heads per KV head
     * @param tile     keys per step (and per packed tile)
     * @param queries  queries per query tile
     * @param qTiles   query tiles per (batch, KV head)
     * @param splits   KV splits per query tile (split-KV when more than 1)
     * @param splitLen keys per split
     * @param packKeys whether the call packs its keys transposed ({@code [B, Hkv, tiles, D, tile]}) before scoring
     * @param packedPerHead floats of packed keys per (batch, KV head)
     */
    private record Layout(int group, int tile, int queries, int qTiles, int splits, int splitLen, boolean packKeys,
                          int packedPerHead) {
        /** Rows of one item: every query head of the group times the queries of a tile. */
        int rows() {
            return queries * group;
        }

        /**
         * Floats of scores one item needs per tile: one {@code ROW_BLOCK x tile} block per row block, which are blocks
         * of heads (per query) when {@code group >= ROW_BLOCK}, else blocks of queries (per head), or of heads when a
         * tile has no more queries than the group has heads ({@code nq * 1 block <= group <= group * ceil(bq / ROW_BLOCK)}).
         */
        int scoreFloats() {
            int blocks = group >= ROW_BLOCK ? queries * ceilDiv(group, ROW_BLOCK) : group * ceilDiv(queries, ROW_BLOCK);
            return Math.max(blocks, 1) * ROW_BLOCK * tile;
        }
    }

    /**
     * One call's own buffers next to its layout: the transposed keys the broadcast kernel scores (packed by this call,
     * or a tiled cache's store; null when keys are read row-major) and the split partials ({@code [B, Hq, Lq, splits,
     * Dv]} and {@code [B, Hq, Lq, splits]}, null without split-KV).
     */
    private record Run(AttentionCall c, Layout lay, float[] kt, int ktStride, float[] partO, float[] partM, float[] partL) {
    }

    /** Keys {@code [lo, hi)} are visible to a query (before the mask and the mask mod); empty when {@code lo == hi}. */
    private record Band(int lo, int hi) {
        static final Band EMPTY = new Band(0, 0);
    }

    /**
     * A block of up to {@link #ROW_BLOCK} rows scored together: either query heads {@code head0, head0 + 1, ...} of query
     * {@code query0} ({@code acrossHeads}), or queries {@code query0, query0 + 1, ...} of head {@code head0}. Row
     * {@code r}'s query vector starts at {@code qOff + r*qStride} and its accumulator is row {@code acc0 + r*accStep}
     * of the item; {@code tileQuery0} is {@code query0}'s index within the item's query tile.
     */
    private record RowBlock(int rows, boolean acrossHeads, int head0, int query0, int tileQuery0, int qOff, int qStride,
                            int acc0, int accStep) {
        int head(int r) {
            return acrossHeads ? head0 + r : head0;
        }

        int query(int r) {
            return acrossHeads ? query0 : query0 + r;
        }
    }

    /** The key tile an item is at: keys from {@code start}, whose first key and value rows start at {@code kRow}, {@code vRow}. */
    private record KeyTile(int start, int kRow, int vRow) {
    }

    /** A worker's scratch for one item at a time; reused across items and calls while large enough. */
    private static final class Scratch {
        final float[] o;
        final float[] m;
        final float[] l;
        final float[] s;
        final float[] alpha = new float[ROW_BLOCK];
        float touched; // see touchAhead
        final int[] lo;
        final int[] hi;

        Scratch(int rows, int dv, int scoreFloats, int queries) {
            o = new float[Math.max(rows, 1) * dv];
            m = new float[rows];
            l = new float[rows];
            s = new float[scoreFloats];
            lo = new int[queries];
            hi = new int[queries];
        }

        boolean fits(int rows, int dv, int scoreFloats, int queries) {
            return o.length >= rows * dv && m.length >= rows && s.length >= scoreFloats && lo.length >= queries;
        }
    }

    /** A spare scratch large enough for items of {@code lay}, or a new one. */
    private Scratch takeScratch(Layout lay, int dv) {
        Scratch spare = spareScratch.pollFirst();
        if (spare != null && spare.fits(lay.rows(), dv, lay.scoreFloats(), lay.queries())) return spare;
        // too small for this shape (or none left): make one that also fits what the dropped one did
        int rows = lay.rows();
        int scores = lay.scoreFloats();
        int queries = lay.queries();
        if (spare != null) {
            rows = Math.max(rows, spare.m.length);
            dv = Math.max(dv, spare.o.length / Math.max(spare.m.length, 1));
            scores = Math.max(scores, spare.s.length);
            queries = Math.max(queries, spare.lo.length);
        }
        return new Scratch(rows, dv, scores, queries);
    }

    private void giveBack(Scratch s) {
        spareScratch.offerFirst(s); // last in, first out: the most recently used scratch is the likeliest in cache
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
                .k(k, c.kv.ks.maxAbs())
                .v(v, c.kv.vs.maxAbs());
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
        Band band = visible(c, diagonal(c, i, len), len);
        for (int j = band.lo(); j < band.hi(); j++) {
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
        Run run = buffers(c, lay);
        int heads = c.batch * c.kvHeads;
        if (lay.packKeys()) pool.forEach(heads, () -> null, (item, unused) -> packTransposed(run, item));
        int items = heads * lay.qTiles();
        pool.forEach(items * lay.splits(), () -> takeScratch(lay, c.vHeadDim), this::giveBack,
                (item, s) -> attend(run, item, s));
        if (lay.splits() > 1) {
            pool.forEach(items, () -> takeScratch(lay, c.vHeadDim), this::giveBack, (item, s) -> merge(run, item, s));
        }
    }

    /** The layout of {@code c}'s shape: computed on its first call, then looked up. */
    private Layout layout(AttentionCall c) {
        Shape shape = Shape.of(c);
        Layout lay = layouts.get(shape);
        if (lay != null) return lay;
        if (layouts.size() >= MAX_CACHED_LAYOUTS) layouts.clear(); // cheap to recompute; the cache must not grow without end
        return layouts.computeIfAbsent(shape, unused -> newLayout(c));
    }

    private Layout newLayout(AttentionCall c) {
        int g = c.group();
        int maxLen = c.kv.maxLength();
        int queries = Math.max(1, Math.min(c.qLen, tuning.queryRows() / g));
        int qTiles = ceilDiv(c.qLen, queries);
        // Keys per step: kvTile, or twice that when prefill packs keys of d <= 64, so that a packed K tile is
        // still ~32 KB, the size of L1 (docs/PERFORMANCE.md has the measurements)
        // Packing copies every key once per call, so it pays only when the keys are then read for several query
        // tiles or queries; a single decode query (MQA: 32 heads x 1 query reaches transposeRows) reads them once.
        boolean prefill = !c.kv.keysTransposed() && c.qLen > 1 && (long) g * c.qLen >= tuning.transposeRows();
        int tile = prefill && c.headDim <= 64 ? 2 * tuning.kvTile() : tuning.kvTile();
        long items = (long) c.batch * c.kvHeads * qTiles;
        int splits = 1;
        int splitLen = Math.max(maxLen, 1);
        if (items < tuning.targetItems() && maxLen > 0) {
            long want = (tuning.targetItems() + items - 1) / items;
            long byLen = Math.max(1, maxLen / tuning.minSplitKeys());
            splits = (int) Math.min(Math.min(want, byLen), tuning.maxSplits());
            if (splits > 1) {
                splitLen = roundUp(ceilDiv(maxLen, splits), tile);
                splits = ceilDiv(maxLen, splitLen);
            }
            long partials = (long) c.batch * c.qHeads * c.qLen * splits * c.vHeadDim;
            if (partials > Tensor.MAX_ELEMENTS) {
                splits = 1;
                splitLen = maxLen;
            }
        }
        // packed keys take the TiledKvCache layout, [B, Hkv, tiles, D, tile]: a tile is one contiguous block. (One
        // [D][L] matrix per head had rows 4 KB x 2^k apart for power-of-two lengths, so every row of a tile fell into
        // the same few L1 sets and the scores kernel read K from L2.)
        long perHead = (long) ceilDiv(maxLen, tile) * c.headDim * tile;
        boolean packKeys = !c.kv.keysTransposed() && maxLen > 0 && prefill
                && (long) c.batch * c.kvHeads * perHead <= Tensor.MAX_ELEMENTS;
        return new Layout(g, tile, queries, qTiles, splits, splitLen, packKeys, packKeys ? (int) perHead : 0);
    }

    /** The call's own buffers: packed keys and split partials, as its layout asks. */
    private static Run buffers(AttentionCall c, Layout lay) {
        float[] kt = null;
        int ktStride = 0;
        if (c.kv.keysTransposed()) { // a tiled cache: its store already is what packing would make
            kt = c.kv.k;
            ktStride = c.kv.ktStride();
        } else if (lay.packKeys()) {
            kt = new float[c.batch * c.kvHeads * lay.packedPerHead()];
            ktStride = lay.tile();
        }
        if (lay.splits() == 1) return new Run(c, lay, kt, ktStride, null, null, null);
        int n = c.batch * c.qHeads * c.qLen * lay.splits();
        return new Run(c, lay, kt, ktStride, new float[n * c.vHeadDim], new float[n], new float[n]);
    }

    /** Where key {@code j}'s first element is in the packed keys of (batch, KV head) {@code head}. */
    private static int packedRow(AttentionCall c, Layout lay, int head, int j) {
        int tile = lay.tile();
        return head * lay.packedPerHead() + (j / tile) * c.headDim * tile + j % tile;
    }

    /** Keys of one (batch, KV head) into its {@code [tiles][D][tile]} part of the packed keys, a run of rows at a time. */
    private static void packTransposed(Run run, int head) {
        AttentionCall c = run.c();
        int b = head / c.kvHeads;
        int kvh = head % c.kvHeads;
        int d = c.headDim;
        int tile = run.lay().tile();
        int len = c.kv.length(b);
        float[] src = c.kv.k; // null for reduced keys: converted here, as they are transposed
        KvSource.Store store = c.kv.ks;
        float[] kt = run.kt();
        int stride = c.kv.kStride;
        for (int j0 = 0; j0 < len; ) {
            int n = Math.min(len - j0, PACK_BLOCK);
            n = Math.min(n, c.kv.run(b, j0));
            n = Math.min(n, tile - j0 % tile);
            int row = c.kv.kRow(b, kvh, j0);
            int dst0 = packedRow(c, run.lay(), head, j0);
            if (src == null) {
                for (int jj = 0; jj < n; jj++) store.widenRow(row + jj * stride, d, kt, dst0 + jj, tile);
            } else {
                for (int e = 0; e < d; e++) {
                    int dst = dst0 + e * tile;
                    int from = row + e;
                    for (int jj = 0; jj < n; jj++) kt[dst + jj] = src[from + jj * stride];
                }
            }
            j0 += n;
        }
    }

    /** The keys a query on diagonal {@code di} sees by the causal and window rules, within {@code [0, len)}. */
    private static Band visible(AttentionCall c, long di, int len) {
        long lo = 0;
        long hi = len;
        if (c.causal) hi = Math.min(hi, di + 1);
        if (c.windowLeft >= 0) lo = Math.max(lo, di - c.windowLeft);
        if (c.windowRight >= 0) hi = Math.min(hi, di + c.windowRight + 1);
        return lo >= hi ? Band.EMPTY : new Band((int) lo, (int) hi); // lo, hi in [0, len]
    }

    private static long diagonal(AttentionCall c, int i, int len) {
        return c.bottomRight ? (long) i + len - c.qLen : i;
    }

    private void attend(Run run, int item, Scratch s) {
        AttentionCall c = run.c();
        Layout lay = run.lay();
        // heavy (late, causal) query tiles first for load balance; the mapping does not affect results
        int per = c.batch * c.kvHeads * lay.splits();
        int qTile = lay.qTiles() - 1 - item / per;
        int rem = item % per;
        int split = rem % lay.splits();
        int b = rem / lay.splits() / c.kvHeads;
        int kvh = rem / lay.splits() % c.kvHeads;

        int g = lay.group();
        int dv = c.vHeadDim;
        int tileLen = lay.tile();
        int i0 = qTile * lay.queries();
        int nq = Math.min(lay.queries(), c.qLen - i0);
        int rows = nq * g;
        int len = c.kv.length(b);
        long splitStart = (long) split * lay.splitLen();
        long splitEnd = Math.min(len, splitStart + lay.splitLen());

        Arrays.fill(s.o, 0, rows * dv, 0f);
        Arrays.fill(s.m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.l, 0, rows, 0f);
        int jStart = Integer.MAX_VALUE;
        int jEnd = 0;
        for (int ii = 0; ii < nq; ii++) {
            Band band = visible(c, diagonal(c, i0 + ii, len), len);
            int lo = (int) Math.max(band.lo(), splitStart);
            int hi = (int) Math.min(band.hi(), splitEnd);
            if (lo >= hi) {
                lo = 0;
                hi = 0;
            } else {
                jStart = Math.min(jStart, lo);
                jEnd = Math.max(jEnd, hi);
            }
            s.lo[ii] = lo;
            s.hi[ii] = hi;
        }

        int hBase = kvh * g;
        int qBase = c.qOff + b * c.qSB + hBase * c.qSH;
        boolean packed = lay.packKeys();
        for (int j0 = jStart; j0 < jEnd; ) {
            int j1 = Math.min(jEnd - j0, tileLen);
            j1 = j0 + Math.min(j1, c.kv.run(b, j0));
            if (packed) j1 = Math.min(j1, (j0 / tileLen + 1) * tileLen); // a block never crosses a packed tile
            KeyTile keys = new KeyTile(j0, packed ? packedRow(c, lay, b * c.kvHeads + kvh, j0) : c.kv.kRow(b, kvh, j0),
                    c.kv.vRow(b, kvh, j0));
            if (!packed && j1 < jEnd && TOUCH_AHEAD) s.touched += touchAhead(c, b, kvh, j1, Math.min(jEnd - j1, tileLen));
            // Phase 0 scores every row block of the item against this tile, phase 1 runs the online softmax and P V
            // of each. One phase reads only K, the other only V, so a tile of either can stay in L1 across the blocks
            // (a d-128 K and V tile pair, 64 KB, does not fit L1 together).
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
                            RowBlock block = new RowBlock(Math.min(ROW_BLOCK, g - g0), true, hBase + g0, i, ii,
                                    qBase + g0 * c.qSH + i * c.qSL, c.qSH, ii * g + g0, 1);
                            if (phase == 0) score(run, s, sBase, b, keys, a, z, block);
                            else softmaxAndAccumulate(run, s, sBase, keys, a, z, block);
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
                            RowBlock block = new RowBlock(r, false, hBase + gh, i0 + ii, ii,
                                    qBase + gh * c.qSH + (i0 + ii) * c.qSL, c.qSL, ii * g + gh, g);
                            if (phase == 0) score(run, s, sBase, b, keys, a, z, block);
                            else softmaxAndAccumulate(run, s, sBase, keys, a, z, block);
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
                if (lay.splits() == 1) {
                    finish(c, b, h, i, s.o, row * dv, s.m[row], s.l[row]);
                } else {
                    int p = ((b * c.qHeads + h) * c.qLen + i) * lay.splits() + split;
                    System.arraycopy(s.o, row * dv, run.partO(), p * dv, dv);
                    run.partM()[p] = s.m[row];
                    run.partL()[p] = s.l[row];
                }
            }
        }
    }

    static final boolean TOUCH_AHEAD = !"false".equals(System.getProperty("attn4j.cpu.touchAhead"));

    /**
     * Reads one float of every cache line of the next tile's keys and values (decode over a cache, where K and V
     * come from DRAM). Java has no prefetch instruction; these loads start the next tile's misses, many at a time,
     * while this one is computed, which the hardware prefetchers alone do not. The sum is kept in the scratch so that
     * the loads are not dead code; it is one chain of dependent adds so that the touches trickle out during the
     * tile's computation instead of all at once.
     */
    private static float touchAhead(AttentionCall c, int b, int kvh, int j, int n) {
        n = Math.min(n, c.kv.run(b, j));
        float sum = 0;
        if (c.kv.keysTransposed()) { // one [D][tile] block: a contiguous range from the first key of the tile
            int from = c.kv.kRow(b, kvh, j);
            sum += c.kv.ks.touch(from, 1, 0, (c.headDim - 1) * c.kv.ktStride() + n);
        } else {
            sum += c.kv.ks.touch(c.kv.kRow(b, kvh, j), n, c.kv.kStride, c.headDim);
        }
        return sum + c.kv.vs.touch(c.kv.vRow(b, kvh, j), n, c.kv.vStride, c.vHeadDim);
    }

    /**
     * Scores one row block over keys {@code [a, z)} of the tile {@code keys} into {@code s.s} from {@code sBase}: FORMAT.md
     * steps 1-4 and the visibility rules. Keys of {@code [a, z)} outside a row's own range are hidden.
     */
    private void score(Run run, Scratch s, int sBase, int b, KeyTile keys, int a, int z, RowBlock block) {
        AttentionCall c = run.c();
        int n = z - a;
        int c0 = a - keys.start();
        int d = c.headDim;
        int tileLen = run.lay().tile();
        float[] sc = s.s;
        int r = block.rows();
        if (c.kv.keysTransposed() && c.kv.ks.h != null) { // a float16/bfloat16 tiled cache, converted as it is read
            k.transposedScoresHalf(r, n, d, c.scale, c.q, block.qOff(), block.qStride(), c.kv.ks.h,
                    c.kv.ks.dtype == org.attn4j.api.DType.BFLOAT16, keys.kRow() + c0, c.kv.ktStride(), sc, sBase, tileLen);
        } else if (run.kt() != null) {
            k.transposedScores(r, n, d, c.scale, c.q, block.qOff(), block.qStride(), run.kt(), keys.kRow() + c0,
                    run.ktStride(), sc, sBase, tileLen);
        } else {
            c.kv.ks.dotScores(k, r, n, d, c.scale, c.q, block.qOff(), block.qStride(), keys.kRow() + c0 * c.kv.kStride,
                    c.kv.kStride, sc, sBase, tileLen);
        }
        int len = c.kv.length(b);
        for (int rr = 0; rr < r; rr++) {
            int off = sBase + rr * tileLen;
            int h = block.head(rr);
            int i = block.query(rr);
            postProcess(c, sc, off, n, b, h, i, a, diagonal(c, i, len));
            if (!block.acrossHeads()) { // query blocks span the union of their rows' ranges: hide what this query cannot see
                int ii = block.tileQuery0() + rr;
                int lo = Math.min(Math.max(s.lo[ii], a), z);
                int hi = Math.max(Math.min(s.hi[ii], z), lo);
                Arrays.fill(sc, off, off + (lo - a), Float.NEGATIVE_INFINITY);
                Arrays.fill(sc, off + (hi - a), off + n, Float.NEGATIVE_INFINITY);
            }
            if (c.scoreMod != null || c.maskMod != null) applyMods(c, sc, off, n, b, h, i, a);
        }
    }

    /**
     * The online softmax of one row block's scores (made by {@link #score}), all rows together, then {@code P V} into
     * the block's accumulators, which it rescales by alpha as it loads them.
     */
    private void softmaxAndAccumulate(Run run, Scratch s, int sBase, KeyTile keys, int a, int z, RowBlock block) {
        AttentionCall c = run.c();
        int n = z - a;
        int dv = c.vHeadDim;
        int tileLen = run.lay().tile();
        int r = block.rows();
        k.onlineSoftmax(r, n, s.s, sBase, tileLen, s.m, s.l, block.acc0(), block.accStep(), s.alpha);
        c.kv.vs.accumulateRows(k, r, n, dv, s.s, sBase, tileLen, keys.vRow() + (a - keys.start()) * c.kv.vStride,
                c.kv.vStride, s.o, block.acc0() * dv, block.accStep() * dv, s.alpha);
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
    private void merge(Run run, int item, Scratch s) {
        AttentionCall c = run.c();
        Layout lay = run.lay();
        int qTile = item % lay.qTiles();
        int head = item / lay.qTiles();
        int b = head / c.kvHeads;
        int kvh = head % c.kvHeads;
        int dv = c.vHeadDim;
        int splits = lay.splits();
        float[] partO = run.partO();
        float[] partM = run.partM();
        float[] partL = run.partL();
        int i0 = qTile * lay.queries();
        int nq = Math.min(lay.queries(), c.qLen - i0);
        for (int ii = 0; ii < nq; ii++) {
            int i = i0 + ii;
            for (int gh = 0; gh < lay.group(); gh++) {
                int h = kvh * lay.group() + gh;
                int p0 = ((b * c.qHeads + h) * c.qLen + i) * splits;
                float mMax = Float.NEGATIVE_INFINITY;
                for (int sp = 0; sp < splits; sp++) mMax = Math.max(mMax, partM[p0 + sp]);
                Arrays.fill(s.o, 0, dv, 0f);
                double l = 0;
                if (mMax != Float.NEGATIVE_INFINITY) {
                    for (int sp = 0; sp < splits; sp++) {
                        float ms = partM[p0 + sp];
                        if (ms == Float.NEGATIVE_INFINITY) continue; // this split saw no key
                        double w = StrictMath.exp((double) ms - mMax);
                        l += partL[p0 + sp] * w;
                        k.axpy((float) w, partO, (p0 + sp) * dv, s.o, 0, dv);
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
