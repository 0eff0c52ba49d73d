package org.attn4j.api;

/**
 * Weights of an MLA layer (FORMAT.md). Either {@code wQ} (plain query, {@code qLoraRank == 0}) or
 * {@code wQA, qANorm, wQB} (query LoRA) is given; the others are {@code null}.
 *
 * @param wQ      {@code [qHeads*(nope+rope), hidden]}
 * @param wQA     {@code [qLoraRank, hidden]}
 * @param qANorm  {@code [qLoraRank]}
 * @param wQB     {@code [qHeads*(nope+rope), qLoraRank]}
 * @param wKvA    {@code [kvLoraRank + rope, hidden]}: rows {@code 0..kvLoraRank} give {@code c_kv}, the last {@code rope} rows {@code k_pe}
 * @param kvANorm {@code [kvLoraRank]}
 * @param wKvB    {@code [qHeads*(nope+vHeadDim), kvLoraRank]}: per head, {@code nope} key rows then {@code vHeadDim} value rows
 * @param wO      {@code [hidden, qHeads*vHeadDim]}
 */
public record MlaLayerWeights(Tensor wQ, Tensor wQA, Tensor qANorm, Tensor wQB, Tensor wKvA, Tensor kvANorm, Tensor wKvB,
                              Tensor wO) implements LayerWeights {

    @Override
    public void validate(LayerConfig config) {
        if (!(config instanceof MlaLayerConfig c)) {
            throw AttentionException.invalid("config", "an MlaLayerConfig for MlaLayerWeights", config.getClass().getSimpleName());
        }
        int qOut = c.qHeads() * c.qkHeadDim();
        if (c.qLoraRank() == 0) {
            StandardLayerWeights.check("w_q", wQ, qOut, c.hidden());
            AttentionException.require(wQA == null && qANorm == null && wQB == null, "w_q_a", "absent (q_lora_rank = 0)", "a tensor");
        } else {
            AttentionException.require(wQ == null, "w_q", "absent (q_lora_rank > 0)", "a tensor");
            StandardLayerWeights.check("w_q_a", wQA, c.qLoraRank(), c.hidden());
            StandardLayerWeights.check("q_a_norm", qANorm, c.qLoraRank());
            StandardLayerWeights.check("w_q_b", wQB, qOut, c.qLoraRank());
        }
        StandardLayerWeights.check("w_kv_a", wKvA, c.kvLoraRank() + c.qkRopeHeadDim(), c.hidden());
        StandardLayerWeights.check("kv_a_norm", kvANorm, c.kvLoraRank());
        StandardLayerWeights.check("w_kv_b", wKvB, c.qHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank());
        StandardLayerWeights.check("w_o", wO, c.hidden(), c.qHeads() * c.vHeadDim());
    }
}
