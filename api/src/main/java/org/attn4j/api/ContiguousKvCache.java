package org.attn4j.api;

/**
 * A KV cache with one dense slab per sequence: keys {@code [sequences, kvHeads, maxLength, headDim]}
 * (HND per sequence), values likewise. {@link #keys} returns a view, not a copy.
 */
public final class ContiguousKvCache extends AbstractKvCache {
    private final Tensor keyStore;
    private final Tensor valueStore;

    public ContiguousKvCache(DType dtype, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        super(dtype, sequences, kvHeads, maxLength, headDim, vHeadDim);
        Tensor.elementCount(sequences, kvHeads, maxLength, Math.max(headDim, vHeadDim));
        this.keyStore = Tensors.zeros(dtype, sequences, kvHeads, maxLength, headDim);
        this.valueStore = vHeadDim == 0 ? null : Tensors.zeros(dtype, sequences, kvHeads, maxLength, vHeadDim);
    }

    /** The whole key slab {@code [sequences, kvHeads, maxLength, headDim]}; positions past a sequence's length are stale. */
    public Tensor keyStore() {
        return keyStore;
    }

    /** The whole value slab {@code [sequences, kvHeads, maxLength, vHeadDim]}, or {@code null} for a keys-only cache. */
    public Tensor valueStore() {
        return valueStore;
    }

    /** An empty cache of this geometry (e.g. {@link LayerConfig#cacheSpec}). */
    public ContiguousKvCache(KvCacheSpec spec) {
        this(spec.dtype(), spec.sequences(), spec.kvHeads(), spec.maxLength(), spec.headDim(), spec.vHeadDim());
    }

    @Override
    protected void write(int sequence, Tensor k, Tensor v) {
        int at = lengths[sequence];
        int n = k.size(1);
        Tensors.copyInto(k, keyStore.select(0, sequence).slice(1, at, n));
        if (v != null) Tensors.copyInto(v, valueStore.select(0, sequence).slice(1, at, n));
        lengths[sequence] = at + n;
    }

    @Override
    public Tensor keys(int sequence) {
        return keyStore.select(0, checked(sequence)).slice(1, 0, lengths[sequence]);
    }

    @Override
    public Tensor values(int sequence) {
        AttentionException.require(valueStore != null, "values", "a cache with vHeadDim > 0", "a keys-only cache");
        return valueStore.select(0, checked(sequence)).slice(1, 0, lengths[sequence]);
    }

    private int checked(int sequence) {
        checkSequence(sequence);
        return sequence;
    }
}
