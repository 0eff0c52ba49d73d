package org.attn4j.api;

import java.util.OptionalDouble;

/**
 * A multi-head latent attention layer as in DeepSeek-V2/V3 (FORMAT.md "kind = layer, variant mla"; no biases,
 * no YaRN). The KV cache stores, per token, the normalised latent {@code c_kv} ({@code kvLoraRank}) and the
 * shared rotated key {@code k_pe} ({@code qkRopeHeadDim}).
 *
 * @param qLoraRank       latent width of the query path; 0 = plain query projection
 * @param kvLoraRank      latent width {@code c_kv}
 * @param qkNopeHeadDim   per-head key/query width without RoPE
 * @param qkRopeHeadDim   per-head (query) / shared (key) RoPE width; even
 * @param vHeadDim        per-head value width
 * @param ropeTheta       RoPE base
 * @param ropeInterleaved true: rotate pairs {@code (2i, 2i+1)}; false: pairs {@code (i, i + d/2)}
 * @param rmsEps          epsilon of the RMSNorms on the latents
 * @param positionOffset  position of the first token
 */
public record MlaLayerConfig(int hidden, int qHeads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim,
                             int vHeadDim, double ropeTheta, boolean ropeInterleaved, double rmsEps, int positionOffset,
                             boolean causal, Alignment alignment, double softcap, OptionalDouble scale)
        implements LayerConfig {

    public MlaLayerConfig {
        AttentionException.require(hidden >= 1, "hidden", ">= 1", hidden);
        AttentionException.require(qHeads >= 1, "qHeads", ">= 1", qHeads);
        AttentionException.require(qLoraRank >= 0, "qLoraRank", ">= 0 (0 = plain query projection)", qLoraRank);
        AttentionException.require(kvLoraRank >= 1, "kvLoraRank", ">= 1", kvLoraRank);
        AttentionException.require(qkNopeHeadDim >= 0, "qkNopeHeadDim", ">= 0", qkNopeHeadDim);
        AttentionException.require(qkRopeHeadDim >= 0 && qkRopeHeadDim % 2 == 0, "qkRopeHeadDim", "an even number >= 0", qkRopeHeadDim);
        // Summed as long: two valid int widths can overflow the int that qkHeadDim() and latentWidth() return.
        long qkHeadDim = (long) qkNopeHeadDim + qkRopeHeadDim;
        AttentionException.require(qkHeadDim >= 1 && qkHeadDim <= Integer.MAX_VALUE, "qkNopeHeadDim + qkRopeHeadDim",
                "in [1, " + Integer.MAX_VALUE + "]", qkHeadDim);
        long latentWidth = (long) kvLoraRank + qkRopeHeadDim;
        AttentionException.require(latentWidth <= Integer.MAX_VALUE, "kvLoraRank + qkRopeHeadDim", "<= " + Integer.MAX_VALUE,
                latentWidth);
        AttentionException.require(vHeadDim >= 1, "vHeadDim", ">= 1", vHeadDim);
        AttentionException.require(Double.isFinite(ropeTheta) && ropeTheta > 0, "ropeTheta", "a finite number > 0", ropeTheta);
        AttentionException.require(Double.isFinite(rmsEps) && rmsEps > 0, "rmsEps", "a finite number > 0", rmsEps);
        AttentionException.require(positionOffset >= 0, "positionOffset", ">= 0", positionOffset);
        if (alignment == null) alignment = Alignment.BOTTOM_RIGHT;
        if (scale == null) scale = OptionalDouble.empty();
        AttentionException.require(Double.isFinite(softcap) && softcap >= 0, "softcap", "a finite number >= 0", softcap);
    }

    /** DeepSeek-style defaults (theta 10000, halves pairing, eps 1e-6, offset 0, causal). */
    public static MlaLayerConfig of(int hidden, int qHeads, int qLoraRank, int kvLoraRank, int nope, int rope, int vHeadDim) {
        return new MlaLayerConfig(hidden, qHeads, qLoraRank, kvLoraRank, nope, rope, vHeadDim, 10000, false, 1e-6, 0, true,
                Alignment.BOTTOM_RIGHT, 0, OptionalDouble.empty());
    }

    @Override
    public LayerVariant variant() {
        return LayerVariant.MLA;
    }

    /** Per-head query/key width {@code nope + rope}. */
    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    /** Floats per token in the latent cache: {@code kvLoraRank + qkRopeHeadDim}. */
    public int latentWidth() {
        return kvLoraRank + qkRopeHeadDim;
    }

    /** The naive (decompressed) attention: per head, Q/K width {@code nope + rope}, V width {@code vHeadDim}. */
    @Override
    public AttentionSpec attentionSpec() {
        AttentionSpec.Builder b = AttentionSpec.builder(qHeads, qHeads, qkHeadDim()).vHeadDim(vHeadDim).causal(causal)
                .alignment(alignment).softcap(softcap).scale(scale.orElse(1.0 / Math.sqrt(qkHeadDim())));
        return b.build();
    }

    public MlaLayerConfig withCausal(boolean causal) {
        return new MlaLayerConfig(hidden, qHeads, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim, ropeTheta,
                ropeInterleaved, rmsEps, positionOffset, causal, alignment, softcap, scale);
    }

    public MlaLayerConfig withRope(boolean interleaved, double theta, int positionOffset) {
        return new MlaLayerConfig(hidden, qHeads, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim, theta,
                interleaved, rmsEps, positionOffset, causal, alignment, softcap, scale);
    }
}
