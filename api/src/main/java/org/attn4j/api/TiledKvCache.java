package org.attn4j.api;

/**
 * A KV cache whose keys are stored <b>transposed, in tiles</b> of {@link #tile()} tokens: per sequence and KV
 * head, tile {@code t} holds tokens {@code t*tile .. t*tile + tile - 1} as a {@code [headDim][tile]} block, so
 * the key store is {@code [sequences, kvHeads, tiles, headDim, tile]}. Values are stored as in
 * {@link ContiguousKvCache}, {@code [sequences, kvHeads, maxLength, vHeadDim]}.
 *
 * <p>Why: a decode step scores the query heads of a KV group against a whole tile by broadcasting query
 * elements over contiguous key columns, with no horizontal sums, and reads the keys as one sequential stream
 * (see {@code docs/kv-layout.md} and kernels-cpu). The price: {@link #keys(int)} is a copy, not a view.
 */
public final class TiledKvCache extends AbstractKvCache {
    private final int tile;
    private final Tensor keyTiles;
    private final Tensor valueStore;

    /**
     * @param tile tokens per key tile ({@code >= 1}); a kernel that scores a tile at a time wants its own tile
     *             length here
     */
    public TiledKvCache(DType dtype, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim, int tile) {
        super(dtype, sequences, kvHeads, maxLength, headDim, vHeadDim);
        // keys are stored transposed (a tile of tokens per row), so int8's scale per token and head has no row to live in
        AttentionException.require(dtype != DType.INT8, "dtype", "FLOAT32, FLOAT64, FLOAT16 or BFLOAT16 (keys are transposed)", dtype);
        AttentionException.require(tile >= 1, "tile", ">= 1", tile);
        int tiles = (int) (((long) maxLength + tile - 1) / tile);
        this.tile = tile;
        this.keyTiles = Tensors.zeros(dtype, sequences, kvHeads, tiles, headDim, tile);
        this.valueStore = vHeadDim == 0 ? null : Tensors.zeros(dtype, sequences, kvHeads, maxLength, vHeadDim);
    }

    /** Tokens per key tile. */
    public int tile() {
        return tile;
    }

    /** The key store {@code [sequences, kvHeads, tiles, headDim, tile]}; slots past a sequence's length are stale. */
    public Tensor keyTiles() {
        return keyTiles;
    }

    /** The whole value slab {@code [sequences, kvHeads, maxLength, vHeadDim]}, or {@code null} for a keys-only cache. */
    public Tensor valueStore() {
        return valueStore;
    }

    /** Tokens {@code [from, from + n)} of one sequence inside one tile, as a {@code [kvHeads, n, headDim]} view. */
    private Tensor keyView(int sequence, int from, int n) {
        int t = from / tile;
        return keyTiles.select(0, sequence).select(1, t).slice(2, from - t * tile, n).permute(0, 2, 1);
    }

    @Override
    protected void write(int sequence, Tensor k, Tensor v) {
        int at = lengths[sequence];
        int n = k.size(1);
        for (int j = 0; j < n; ) {
            int pos = at + j;
            int run = Math.min(n - j, tile - pos % tile); // to the end of this tile
            Tensors.copyInto(k.slice(1, j, run), keyView(sequence, pos, run));
            j += run;
        }
        if (v != null) Tensors.copyInto(v, valueStore.select(0, sequence).slice(1, at, n));
        lengths[sequence] = at + n;
    }

    /** A copy {@code [kvHeads, length, headDim]} of one sequence's keys (the store is tiled, so no view exists). */
    @Override
    public Tensor keys(int sequence) {
        checkSequence(sequence);
        int len = lengths[sequence];
        Tensor out = Tensors.zeros(dtype, kvHeads, len, headDim);
        for (int j = 0; j < len; ) {
            int run = Math.min(len - j, tile - j % tile);
            Tensors.copyInto(keyView(sequence, j, run), out.slice(1, j, run));
            j += run;
        }
        return out;
    }

    @Override
    public Tensor values(int sequence) {
        checkSequence(sequence);
        AttentionException.require(valueStore != null, "values", "a cache with vHeadDim > 0", "a keys-only cache");
        return valueStore.select(0, sequence).slice(1, 0, lengths[sequence]);
    }
}
