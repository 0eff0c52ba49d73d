package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;

/**
 * Work decomposition of the CPU engine. Results depend on these numbers and on the shapes only (never on the
 * thread count or on timing), so one configuration always produces bit-identical outputs.
 *
 * @param queryRows     query rows (query heads of one KV group × queries) per work item; the query tile is
 *                      {@code max(1, queryRows / groupSize)} queries
 * @param kvTile        keys per KV tile (online-softmax step) and the tile of the backend's KV caches; a prefill
 *                      that packs keys with {@code headDim <= 64} steps by twice this
 * @param transposeRows when a KV group has at least this many query rows ({@code groupSize * qLen}), keys
 *                      are packed transposed once per call and scored with the broadcast kernel; below it
 *                      (decode) keys are read in place, row-major
 * @param targetItems   when {@code batch * kvHeads * queryTiles} is below this, the KV length is split
 *                      (split-KV / flash-decoding) and the partial results merged by their log-sum-exp
 * @param minSplitKeys  a KV split covers at least this many keys
 * @param maxSplits     at most this many KV splits
 */
public record CpuTuning(int queryRows, int kvTile, int transposeRows, int targetItems, int minSplitKeys, int maxSplits) {

    /**
     * Defaults measured on a 2-core AVX-512 machine (docs/PERFORMANCE.md has the figures). 256 query rows per item (64
     * queries of a 4-head group, 256 of one MHA head): each K/V tile, read from L2, serves twice the rows of 128.
     */
    public static final CpuTuning DEFAULT = new CpuTuning(256, 64, 32, 32, 256, 64);

    public CpuTuning {
        AttentionException.require(queryRows >= 1, "queryRows", ">= 1", queryRows);
        AttentionException.require(kvTile >= 1, "kvTile", ">= 1", kvTile);
        AttentionException.require(transposeRows >= 1, "transposeRows", ">= 1", transposeRows);
        AttentionException.require(targetItems >= 1, "targetItems", ">= 1", targetItems);
        AttentionException.require(minSplitKeys >= 1, "minSplitKeys", ">= 1", minSplitKeys);
        AttentionException.require(maxSplits >= 1, "maxSplits", ">= 1", maxSplits);
    }
}
