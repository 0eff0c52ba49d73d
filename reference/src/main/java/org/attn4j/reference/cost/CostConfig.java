package org.attn4j.reference.cost;

import org.attn4j.api.AttentionException;
import org.attn4j.api.DType;

/**
 * One model size to cost: the MHA baseline ({@code heads} heads of width {@code headDim}), MQA (one KV head),
 * GQA ({@code kvGroups} KV heads) and, when {@code mla} is given, MLA. Plain values, so it serialises as JSON.
 *
 * @param name            a label ("article-256", "deepseek-v2", ...)
 * @param hidden          model width {@code d}
 * @param heads           query heads {@code h}
 * @param headDim         per-head width {@code d_h} of the MHA/MQA/GQA layers (often {@code d / h})
 * @param kvGroups        KV heads {@code g} of the GQA variant; a divisor of {@code heads}
 * @param bias            whether the MHA/MQA/GQA projections carry biases (MLA has none, as in DeepSeek)
 * @param mla             MLA widths, or {@code null} to leave MLA out
 * @param bytesPerElement bytes of one cached element (2 for fp16/bf16, 4 for fp32, 1 for fp8)
 * @param layers          layer count, for whole-model KV figures
 * @param contextLength   tokens per sequence, for whole-model KV figures
 * @param source          where these numbers come from (free text)
 * @param kvDtype         the cache's storage type ({@code bytesPerElement} is then its size; {@link DType#INT8} adds a
 *                        4-byte scale per token and KV head, {@link DType#bytesPerRow}), or {@code null}: bytes only
 */
public record CostConfig(String name, int hidden, int heads, int headDim, int kvGroups, boolean bias, MlaDims mla,
                         int bytesPerElement, int layers, long contextLength, String source, DType kvDtype) {
    public CostConfig {
        AttentionException.require(name != null && !name.isBlank(), "name", "a non-blank label", name);
        AttentionException.require(hidden >= 1, "hidden", ">= 1", hidden);
        AttentionException.require(heads >= 1, "heads", ">= 1", heads);
        AttentionException.require(headDim >= 1, "headDim", ">= 1", headDim);
        AttentionException.require(kvGroups >= 1 && heads % kvGroups == 0, "kvGroups", "a divisor of heads=" + heads, kvGroups);
        AttentionException.require(bytesPerElement >= 1 && bytesPerElement <= 16, "bytesPerElement", "in [1, 16]", bytesPerElement);
        AttentionException.require(layers >= 1, "layers", ">= 1", layers);
        AttentionException.require(contextLength >= 0, "contextLength", ">= 0", contextLength);
        if (source == null) source = "";
        if (kvDtype != null) {
            AttentionException.require(kvDtype.isReal(), "kvDtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", kvDtype);
            AttentionException.require(bytesPerElement == kvDtype.bytes(), "bytesPerElement", kvDtype.bytes() + " (the size of " + kvDtype + ")",
                    bytesPerElement);
        }
    }

    /** A configuration whose cache is counted in bytes only (no storage type named). */
    public CostConfig(String name, int hidden, int heads, int headDim, int kvGroups, boolean bias, MlaDims mla,
                      int bytesPerElement, int layers, long contextLength, String source) {
        this(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, null);
    }

    /** The same sizes with the cache stored as {@code dtype} (its bytes per element, and int8's scales). */
    public CostConfig withKvDtype(DType dtype) {
        AttentionException.require(dtype != null, "kvDtype", "a storage type", "null");
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, dtype.bytes(), layers, contextLength, source, dtype);
    }

    /**
     * A plain configuration: {@code headDim = hidden / heads}, no biases, no MLA, 2 bytes per element, one layer,
     * context 1 (so the whole-model KV figures equal the per-token, per-layer ones).
     */
    public static CostConfig of(String name, int hidden, int heads, int kvGroups) {
        AttentionException.require(heads >= 1 && hidden % heads == 0, "heads", "a divisor of hidden=" + hidden, heads);
        return new CostConfig(name, hidden, heads, hidden / heads, kvGroups, false, null, 2, 1, 1, "");
    }

    public CostConfig withHeadDim(int headDim) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, kvDtype);
    }

    public CostConfig withMla(MlaDims mla) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, kvDtype);
    }

    public CostConfig withBias(boolean bias) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, kvDtype);
    }

    /** The same sizes counted at {@code bytesPerElement} bytes, with no storage type named (so no int8 scales). */
    public CostConfig withBytesPerElement(int bytesPerElement) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source);
    }

    /** The same sizes costed over {@code layers} layers of {@code contextLength} tokens. */
    public CostConfig withModel(int layers, long contextLength) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, kvDtype);
    }

    public CostConfig withSource(String source) {
        return new CostConfig(name, hidden, heads, headDim, kvGroups, bias, mla, bytesPerElement, layers, contextLength, source, kvDtype);
    }
}
