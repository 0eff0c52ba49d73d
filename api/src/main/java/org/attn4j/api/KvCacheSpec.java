package org.attn4j.api;

/**
 * The geometry of a {@link KvCache}, readable from any cache ({@link KvCache#spec()}) and asked of a layer
 * ({@link LayerConfig#cacheSpec}): element type, sequences, KV heads, the most tokens a sequence holds, and the
 * key and value widths ({@code vHeadDim = 0} for a keys-only latent cache).
 */
public record KvCacheSpec(DType dtype, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
    public KvCacheSpec {
        AttentionException.require(dtype == DType.FLOAT32 || dtype == DType.FLOAT64, "dtype", "FLOAT32 or FLOAT64", dtype);
        AttentionException.require(sequences >= 1, "sequences", ">= 1", sequences);
        AttentionException.require(kvHeads >= 1, "kvHeads", ">= 1", kvHeads);
        AttentionException.require(maxLength >= 0, "maxLength", ">= 0", maxLength);
        AttentionException.require(headDim >= 1, "headDim", ">= 1", headDim);
        AttentionException.require(vHeadDim >= 0, "vHeadDim", ">= 0 (0 = keys only)", vHeadDim);
    }

    /** Whether the cache holds keys only (an MLA latent cache: values are the first columns of the keys). */
    public boolean keysOnly() {
        return vHeadDim == 0;
    }
}
