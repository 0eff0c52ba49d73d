package org.attn4j.api;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * A KV cache in fixed-size pages shared by all sequences (as vLLM / FlashInfer): key pages
 * {@code [pageCount, kvHeads, pageSize, headDim]}, a block table per sequence listing its pages in order,
 * and a free list. Token {@code t} of sequence {@code s} lives in page {@code blockTable(s)[t / pageSize]}
 * at slot {@code t % pageSize}. Pages are claimed on append and returned by {@link #release} / {@link #reset}.
 * Invariant: a sequence of length {@code n > 0} holds {@code ceil(n / pageSize)} pages.
 */
public final class PagedKvCache extends AbstractKvCache {
    private final int pageSize;
    private final int pageCount;
    private final Tensor keyPages;
    private final Tensor valuePages;
    private final int[][] blockTables;
    private final int[] pagesHeld;
    private final ArrayDeque<Integer> freePages = new ArrayDeque<>();

    /**
     * @param maxLength per-sequence cap on tokens (the pool is shared: appends also fail when no page is free)
     */
    public PagedKvCache(DType dtype, int sequences, int kvHeads, int headDim, int vHeadDim, int pageSize, int pageCount,
                        int maxLength) {
        super(dtype, sequences, kvHeads, maxLength, headDim, vHeadDim);
        AttentionException.require(pageSize >= 1, "pageSize", ">= 1", pageSize);
        AttentionException.require(pageCount >= 1, "pageCount", ">= 1", pageCount);
        this.pageSize = pageSize;
        this.pageCount = pageCount;
        this.keyPages = Tensors.zeros(dtype, pageCount, kvHeads, pageSize, headDim);
        this.valuePages = vHeadDim == 0 ? null : Tensors.zeros(dtype, pageCount, kvHeads, pageSize, vHeadDim);
        int maxPagesPerSequence = (int) Math.min(pageCount, ((long) maxLength + pageSize - 1) / pageSize);
        this.blockTables = new int[sequences][maxPagesPerSequence];
        this.pagesHeld = new int[sequences];
        for (int p = 0; p < pageCount; p++) freePages.add(p);
    }

    public int pageSize() {
        return pageSize;
    }

    public int pageCount() {
        return pageCount;
    }

    public synchronized int freePageCount() {
        return freePages.size();
    }

    /** The pages of a sequence, in token order (a copy). */
    public synchronized int[] blockTable(int sequence) {
        checkSequence(sequence);
        return Arrays.copyOf(blockTables[sequence], pagesHeld[sequence]);
    }

    /** All key pages {@code [pageCount, kvHeads, pageSize, headDim]} (for kernels that read pages in place). */
    public Tensor keyPages() {
        return keyPages;
    }

    /** All value pages {@code [pageCount, kvHeads, pageSize, vHeadDim]}, or {@code null} for a keys-only cache. */
    public Tensor valuePages() {
        return valuePages;
    }

    @Override
    protected void reserve(int[] counts) {
        super.reserve(counts);
        int needed = 0;
        for (int s = 0; s < sequences; s++) needed += pagesFor(lengths[s] + counts[s]) - pagesHeld[s];
        if (needed > freePages.size()) {
            throw AttentionException.invalid("append", "at most " + freePages.size() + " free pages", needed + " pages needed");
        }
        for (int s = 0; s < sequences; s++) {
            int want = pagesFor(lengths[s] + counts[s]);
            while (pagesHeld[s] < want) blockTables[s][pagesHeld[s]++] = freePages.poll();
        }
    }

    private int pagesFor(int tokens) {
        return (tokens + pageSize - 1) / pageSize;
    }

    @Override
    protected void write(int sequence, Tensor k, Tensor v) {
        int n = k.size(1);
        int at = lengths[sequence];
        for (int t = 0; t < n; ) {
            int pos = at + t;
            int page = blockTables[sequence][pos / pageSize];
            int slot = pos % pageSize;
            int run = Math.min(n - t, pageSize - slot);
            Tensors.copyInto(k.slice(1, t, run), keyPages.select(0, page).slice(1, slot, run));
            if (v != null) Tensors.copyInto(v.slice(1, t, run), valuePages.select(0, page).slice(1, slot, run));
            t += run;
        }
        lengths[sequence] = at + n;
    }

    @Override
    public synchronized Tensor keys(int sequence) {
        checkSequence(sequence);
        return gatherPages(keyPages, sequence, headDim);
    }

    @Override
    public synchronized Tensor values(int sequence) {
        checkSequence(sequence);
        AttentionException.require(valuePages != null, "values", "a cache with vHeadDim > 0", "a keys-only cache");
        return gatherPages(valuePages, sequence, vHeadDim);
    }

    private Tensor gatherPages(Tensor pages, int sequence, int width) {
        int len = lengths[sequence];
        Tensor out = Tensors.zeros(dtype, kvHeads, len, width);
        for (int t = 0; t < len; t += pageSize) {
            int run = Math.min(pageSize, len - t);
            Tensors.copyInto(pages.select(0, blockTables[sequence][t / pageSize]).slice(1, 0, run), out.slice(1, t, run));
        }
        return out;
    }

    /** Shortens one sequence and returns the pages it no longer needs to the free list. */
    @Override
    public synchronized void truncate(int sequence, int length) {
        super.truncate(sequence, length);
        int keep = pagesFor(length);
        for (int i = keep; i < pagesHeld[sequence]; i++) freePages.add(blockTables[sequence][i]);
        pagesHeld[sequence] = Math.min(pagesHeld[sequence], keep);
    }

    /** Empties one sequence and returns its pages to the free list. */
    public synchronized void release(int sequence) {
        checkSequence(sequence);
        for (int i = 0; i < pagesHeld[sequence]; i++) freePages.add(blockTables[sequence][i]);
        pagesHeld[sequence] = 0;
        lengths[sequence] = 0;
    }

    @Override
    public synchronized void reset() {
        for (int s = 0; s < sequences; s++) release(s);
    }
}
