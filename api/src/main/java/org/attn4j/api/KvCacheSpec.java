package org.attn4j.api;

/**
 * The geometry of a {@link KvCache}, readable from any cache ({@link KvCache#spec()}) and asked of a layer
 * ({@link LayerConfig#cacheSpec}): element type (the storage type: float32, float64, or the reduced float16, bfloat16
 * and int8 of {@link Quantization}), sequences, KV heads, the most tokens a sequence holds, and the
 * key and value widths ({@code vHeadDim = 0} for a keys-only latent cache).
 */
public record KvCacheSpec(DType dtype, int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
    public KvCacheSpec {
        AttentionException.require(dtype != null && dtype.isReal(), "dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", dtype);
        AttentionException.require(sequences >= 1, "sequences", ">= 1", sequences);
        AttentionException.require(kvHeads >= 1, "kvHeads", ">= 1", kvHeads);
        AttentionException.require(maxLength >= 0, "maxLength", ">= 0", maxLength);
        AttentionException.require(headDim >= 1, "headDim", ">= 1", headDim);
        AttentionException.require(vHeadDim >= 0, "vHeadDim", ">= 0 (0 = keys only)", vHeadDim);
    }

    /** This geometry with another storage type. */
    public KvCacheSpec withDtype(DType storage) {
        return new KvCacheSpec(storage, sequences, kvHeads, maxLength, headDim, vHeadDim);
    }

    /** Bytes the cache takes when full: keys and values of every sequence, with int8's scales (one per token and head). */
    public long bytes() {
        long rows = (long) sequences * kvHeads * maxLength;
        return rows * (dtype.bytesPerRow(headDim) + (vHeadDim == 0 ? 0 : dtype.bytesPerRow(vHeadDim)));
    }

    /** Whether the cache holds keys only (an MLA latent cache: values are the first columns of the keys). */
    public boolean keysOnly() {
        return vHeadDim == 0;
    }
}
