package org.attn4j.reference.cost;

import org.attn4j.api.AttentionException;
import org.attn4j.api.MlaLayerConfig;

/**
 * The widths that size an MLA layer (DeepSeek-V2/V3 naming, as in FORMAT.md "variant mla").
 *
 * @param qLoraRank     latent width of the query path ({@code c_q}); 0 = plain query projection
 * @param kvLoraRank    latent width {@code c} of {@code c_kv}, the part of the KV cache that is per token
 * @param qkNopeHeadDim per-head query/key width without RoPE ({@code n})
 * @param qkRopeHeadDim width of the decoupled RoPE part ({@code r}): per head for queries, one shared key per token
 * @param vHeadDim      per-head value width ({@code v})
 */
public record MlaDims(int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim) {
    public MlaDims {
        AttentionException.require(qLoraRank >= 0, "qLoraRank", ">= 0 (0 = plain query projection)", qLoraRank);
        AttentionException.require(kvLoraRank >= 1, "kvLoraRank", ">= 1", kvLoraRank);
        AttentionException.require(qkNopeHeadDim >= 0, "qkNopeHeadDim", ">= 0", qkNopeHeadDim);
        AttentionException.require(qkRopeHeadDim >= 0 && qkRopeHeadDim % 2 == 0, "qkRopeHeadDim", "an even number >= 0", qkRopeHeadDim);
        // Summed as long: two valid int widths can overflow an int (and report a negative sum).
        AttentionException.require((long) qkNopeHeadDim + qkRopeHeadDim >= 1, "qkNopeHeadDim + qkRopeHeadDim", ">= 1",
                (long) qkNopeHeadDim + qkRopeHeadDim);
        AttentionException.require(vHeadDim >= 1, "vHeadDim", ">= 1", vHeadDim);
    }

    /** The widths of an api layer config. */
    public static MlaDims of(MlaLayerConfig c) {
        AttentionException.require(c != null, "config", "an MLA layer config", "null");
        return new MlaDims(c.qLoraRank(), c.kvLoraRank(), c.qkNopeHeadDim(), c.qkRopeHeadDim(), c.vHeadDim());
    }
}
