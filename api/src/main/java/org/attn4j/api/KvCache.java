package org.attn4j.api;

/**
 * Keys and values of {@code sequences()} sequences, appended a chunk at a time. Every sequence has its own
 * length. A failed append (bad shape, overflow, non-finite value) throws {@link AttentionException} before
 * anything is written: the cache is unchanged.
 *
 * <p>Layout: per sequence, keys are {@code [kvHeads, length, headDim]} and values
 * {@code [kvHeads, length, vHeadDim]}. A latent (MLA) cache has {@code kvHeads = 1}, keys
 * {@code [c_kv | k_pe]} and {@code vHeadDim = 0} (no separate values). See {@code docs/kv-layout.md}.
 */
public interface KvCache {
    DType dtype();

    int sequences();

    int kvHeads();

    int headDim();

    /** 0 for a keys-only (latent) cache. */
    int vHeadDim();

    /** The most tokens one sequence may hold. */
    int maxLength();

    int length(int sequence);

    /** This cache's geometry. */
    default KvCacheSpec spec() {
        return new KvCacheSpec(dtype(), sequences(), kvHeads(), maxLength(), headDim(), vHeadDim());
    }

    /**
     * The room rule every append and every layer step shares: {@code n} new tokens must fit every sequence.
     *
     * @param argument what carries the {@code n} tokens in the caller's words (e.g. {@code x.shape[1]})
     * @throws AttentionException {@code argument: expected at most R new tokens for sequence s (cache length L,
     *                            maxLength M), got n}
     */
    default void requireRoom(String argument, int n) {
        for (int s = 0; s < sequences(); s++) requireRoom(argument, s, n);
    }

    /** {@link #requireRoom(String, int)} for one sequence. */
    default void requireRoom(String argument, int sequence, int n) {
        int length = length(sequence);
        int room = maxLength() - length;
        AttentionException.require(n <= room, argument, "at most " + room + " new tokens for sequence " + sequence
                + " (cache length " + length + ", maxLength " + maxLength() + ")", n);
    }

    /** Every sequence's length, e.g. to {@link #restoreLengths restore} them when a step fails after its append. */
    default int[] lengths() {
        int[] lengths = new int[sequences()];
        for (int s = 0; s < lengths.length; s++) lengths[s] = length(s);
        return lengths;
    }

    /**
     * Rolls every sequence back to {@code lengths} (taken by {@link #lengths()} before an append): a layer step whose
     * attention fails after it appended leaves the cache as it found it.
     */
    default void restoreLengths(int[] lengths) {
        AttentionException.require(lengths != null && lengths.length == sequences(), "lengths",
                sequences() + " lengths (one per sequence)", lengths == null ? "null" : lengths.length);
        for (int s = 0; s < lengths.length; s++) truncate(s, lengths[s]);
    }

    /** Appends {@code n} tokens to every sequence: {@code k [B, kvHeads, n, headDim]}, {@code v [B, kvHeads, n, vHeadDim]} ({@code null} if vHeadDim is 0). */
    void append(Tensor k, Tensor v);

    /** Appends {@code n} tokens to one sequence: {@code k [kvHeads, n, headDim]}, {@code v [kvHeads, n, vHeadDim]} or {@code null}. */
    void append(int sequence, Tensor k, Tensor v);

    /** The keys of one sequence, {@code [kvHeads, length, headDim]} (a view or a copy; do not write to it). */
    Tensor keys(int sequence);

    /** The values of one sequence, {@code [kvHeads, length, vHeadDim]}. */
    Tensor values(int sequence);

    /**
     * Shortens one sequence to its first {@code length} tokens (a rollback: a layer step whose attention failed
     * after its append restores the lengths it found). Caches that cannot shrink throw {@link AttentionException}.
     */
    default void truncate(int sequence, int length) {
        throw new AttentionException("truncate: " + getClass().getSimpleName() + " cannot shrink a sequence");
    }

    /** Empties every sequence. */
    void reset();

    /** The longest sequence. */
    default int maxCurrentLength() {
        int m = 0;
        for (int s = 0; s < sequences(); s++) m = Math.max(m, length(s));
        return m;
    }

    /**
     * Dense inputs for attending {@code q} over this keys-only (MLA latent, {@code vHeadDim == 0}) cache: keys padded to
     * the longest sequence, and as values the first {@code valueColumns} columns of each key row (MLA's absorbed form).
     */
    default AttentionInputs gatherKeysOnly(Tensor q, int valueColumns) {
        requireQueries(q);
        AttentionException.require(vHeadDim() == 0, "cache.vHeadDim", "0 (a keys-only cache)", vHeadDim());
        AttentionException.require(valueColumns >= 1 && valueColumns <= headDim(), "valueColumns",
                "in [1, headDim=" + headDim() + "] to read values from the key rows", valueColumns);
        Tensor k = padded(headDim(), this::keys);
        return AttentionInputs.of(q, k, k.slice(3, 0, valueColumns)).withKvLens(lengths());
    }

    /**
     * Dense inputs for attending {@code q} over this cache: K/V (in the cache's dtype) padded to the longest sequence, with
     * {@code kv_lens} set to each sequence's length.
     */
    default AttentionInputs gather(Tensor q) {
        requireQueries(q);
        AttentionException.require(vHeadDim() > 0, "cache.vHeadDim", "> 0 for attention over K and V", vHeadDim());
        return AttentionInputs.of(q, padded(headDim(), this::keys), padded(vHeadDim(), this::values)).withKvLens(lengths());
    }

    private void requireQueries(Tensor q) {
        AttentionException.require(q != null && q.rank() == 4, "q.rank", 4, q == null ? "null" : q.rank());
        AttentionException.require(q.size(0) == sequences(), "q.shape[0]", "the cache's " + sequences() + " sequences", q.size(0));
    }

    /**
     * {@code [sequences, kvHeads, longest, width]} of {@code rows(s)} per sequence, zero-padded, in the cache's own type
     * so that the values stay exact (an int8 row keeps its scale).
     */
    private Tensor padded(int width, java.util.function.IntFunction<Tensor> rows) {
        Tensor t = Tensors.zeros(dtype(), sequences(), kvHeads(), maxCurrentLength(), width);
        for (int s = 0; s < sequences(); s++) Tensors.copyInto(rows.apply(s), t.select(0, s).slice(1, 0, length(s)));
        return t;
    }
}
