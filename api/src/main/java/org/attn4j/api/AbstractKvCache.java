package org.attn4j.api;

import java.util.Arrays;

/**
 * What both cache layouts share: dimensions, per-sequence lengths, and the checks that run before any
 * write, so that a failed append leaves the cache unchanged.
 */
public abstract sealed class AbstractKvCache implements KvCache permits ContiguousKvCache, PagedKvCache, TiledKvCache {
    protected final DType dtype;
    protected final int sequences;
    protected final int kvHeads;
    protected final int headDim;
    protected final int vHeadDim;
    protected final int maxLength;
    protected final int[] lengths;

    protected AbstractKvCache(DType dtype, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        new KvCacheSpec(dtype, sequences, kvHeads, maxLength, headDim, vHeadDim); // validates every dimension
        this.dtype = dtype;
        this.sequences = sequences;
        this.kvHeads = kvHeads;
        this.maxLength = maxLength;
        this.headDim = headDim;
        this.vHeadDim = vHeadDim;
        this.lengths = new int[sequences];
    }

    @Override public DType dtype() { return dtype; }
    @Override public int sequences() { return sequences; }
    @Override public int kvHeads() { return kvHeads; }
    @Override public int headDim() { return headDim; }
    @Override public int vHeadDim() { return vHeadDim; }
    @Override public int maxLength() { return maxLength; }

    @Override
    public int length(int sequence) {
        checkSequence(sequence);
        return lengths[sequence];
    }

    protected void checkSequence(int sequence) {
        AttentionException.require(sequence >= 0 && sequence < sequences, "sequence", "in [0, " + sequences + ")", sequence);
    }

    @Override
    public synchronized void append(Tensor k, Tensor v) {
        AttentionException.require(k != null && k.rank() == 4, "k.rank", 4, k == null ? "null" : k.rank());
        int n = k.size(2);
        checkChunk(k, v, n, true);
        int[] counts = new int[sequences];
        Arrays.fill(counts, n);
        reserve(counts); // throws before anything is written
        for (int s = 0; s < sequences; s++) {
            write(s, k.select(0, s), v == null ? null : v.select(0, s));
        }
    }

    @Override
    public synchronized void append(int sequence, Tensor k, Tensor v) {
        checkSequence(sequence);
        AttentionException.require(k != null && k.rank() == 3, "k.rank", 3, k == null ? "null" : k.rank());
        int n = k.size(1);
        checkChunk(k, v, n, false);
        int[] counts = new int[sequences];
        counts[sequence] = n;
        reserve(counts);
        write(sequence, k, v);
    }

    private void checkChunk(Tensor k, Tensor v, int n, boolean batched) {
        int[] kShape = batched ? new int[]{sequences, kvHeads, n, headDim} : new int[]{kvHeads, n, headDim};
        k.requireShape("k", kShape);
        requireStorable("k", k);
        if (vHeadDim == 0) {
            AttentionException.require(v == null, "v", "null for a keys-only cache (vHeadDim 0)", "a tensor");
            return;
        }
        AttentionException.require(v != null, "v", "a tensor", "null");
        int[] vShape = batched ? new int[]{sequences, kvHeads, n, vHeadDim} : new int[]{kvHeads, n, vHeadDim};
        v.requireShape("v", vShape);
        requireStorable("v", v);
    }

    /**
     * A real, finite tensor whose values this cache's type can hold: never store a float64 1e300 as +inf in float32, or
     * 70000 as +inf in float16 (int8 quantizes from float32, so it takes what float32 takes).
     */
    private void requireStorable(String name, Tensor t) {
        AttentionException.require(t.dtype().isReal(), name + ".dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", t.dtype());
        Tensors.requireFinite(name, t);
        if (dtype == DType.FLOAT64) return;
        Float32Range.requireFits(name, t);
        if (dtype == DType.FLOAT16 || dtype == DType.BFLOAT16) {
            double limit = Quantization.maxFinite(dtype);
            double[] all = t.toDoubleArray();
            for (int i = 0; i < all.length; i++) {
                if (Math.abs((float) all[i]) > limit) {
                    throw AttentionException.invalid(name + " (flat index " + i + ")",
                            "|x| <= " + limit + " (the largest finite " + dtype + " of this " + dtype + " cache)", all[i]);
                }
            }
        }
    }

    /**
     * Checks that every sequence can take {@code counts[s]} more tokens and claims the room (pages);
     * throws, having changed nothing, when it cannot.
     */
    protected void reserve(int[] counts) {
        for (int s = 0; s < sequences; s++) requireRoom("append", s, counts[s]);
    }

    /** Writes one sequence's chunk ({@code k [kvHeads, n, headDim]}) after {@link #reserve} succeeded, and grows its length. */
    protected abstract void write(int sequence, Tensor k, Tensor v);

    @Override
    public synchronized void truncate(int sequence, int length) {
        checkSequence(sequence);
        AttentionException.require(length >= 0 && length <= lengths[sequence], "length",
                "in [0, " + lengths[sequence] + "] (the current length of sequence " + sequence + ")", length);
        lengths[sequence] = length;
    }

    @Override
    public synchronized void reset() {
        Arrays.fill(lengths, 0);
    }
}
