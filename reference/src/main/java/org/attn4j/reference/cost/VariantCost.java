package org.attn4j.reference.cost;

import org.attn4j.api.AttentionException;
import org.attn4j.api.LayerVariant;

import java.util.List;

/**
 * What one attention variant costs per layer, with the formula behind each figure (for {@code attn cost}).
 *
 * @param variant                 MHA, MQA, GQA or MLA
 * @param label                   e.g. {@code "GQA-4"} (4 KV heads)
 * @param kvHeads                 KV heads (MLA: 1, its shared latent)
 * @param params                  parameters of the layer's weights
 * @param weights                 {@code params} by weight
 * @param paramsVsMha             {@code params / MHA params} of the same configuration
 * @param kvElementsPerToken      cached elements per token per layer
 * @param kvBytesPerToken         {@code kvElementsPerToken * bytesPerElement}
 * @param kvVsMha                 {@code kvElementsPerToken / MHA's}
 * @param contextLength           tokens of the whole-model figure
 * @param layers                  layers of the whole-model figure
 * @param kvBytesTotal            {@code kvBytesPerToken * contextLength * layers}, one sequence
 * @param paramsFormula           how {@code params} is computed, symbols then numbers
 * @param kvElementsFormula       how {@code kvElementsPerToken} is computed
 * @param kvBytesFormula          how {@code kvBytesPerToken} is computed
 * @param kvTotalFormula          how {@code kvBytesTotal} is computed
 */
public record VariantCost(LayerVariant variant, String label, int kvHeads, long params, List<WeightCount> weights,
                          double paramsVsMha, long kvElementsPerToken, long kvBytesPerToken, double kvVsMha,
                          long contextLength, int layers, long kvBytesTotal, String paramsFormula, String kvElementsFormula,
                          String kvBytesFormula, String kvTotalFormula) {
    public VariantCost {
        AttentionException.require(variant != null, "variant", "a layer variant", "null");
        weights = List.copyOf(weights);
        long sum = 0;
        for (WeightCount w : weights) sum = Math.addExact(sum, w.count());
        AttentionException.require(sum == params, "params", "the sum of the weights " + sum, params);
    }

    /** KV-cache bytes of one sequence of {@code contextLength} tokens through {@code layers} layers. */
    public long kvBytes(long contextLength, int layers) {
        AttentionException.require(contextLength >= 0, "contextLength", ">= 0", contextLength);
        AttentionException.require(layers >= 1, "layers", ">= 1", layers);
        return Math.multiplyExact(Math.multiplyExact(kvBytesPerToken, contextLength), layers);
    }
}
