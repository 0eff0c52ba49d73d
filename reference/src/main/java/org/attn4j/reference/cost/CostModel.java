package org.attn4j.reference.cost;

import org.attn4j.api.AttentionException;
import org.attn4j.api.DType;
import org.attn4j.api.LayerVariant;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Parameters and KV-cache size of one attention layer for MHA, MQA, GQA and MLA, with the formula behind each
 * figure. Weights are counted in FORMAT.md's layout ({@code nn.Linear [out, in]}); symbols:
 * {@code d} hidden, {@code h} heads, {@code d_h} head width, {@code g} GQA KV heads, {@code c} kv_lora_rank,
 * {@code c_q} q_lora_rank, {@code n} qk_nope_head_dim, {@code r} qk_rope_head_dim, {@code v} v_head_dim,
 * {@code b} bytes per cached element. With an {@link org.attn4j.api.DType#INT8} cache every cached row (one per token
 * and KV head: K and V rows, or MLA's one latent row) also carries its 4-byte float32 scale
 * ({@link org.attn4j.api.DType#bytesPerRow}): KV bytes = elements·b + rows·4.
 *
 * <pre>
 * MHA params = 4·d·(h·d_h)                 (+ 3·(h·d_h) + d biases)      KV/token/layer = 2·h·d_h
 * MQA params = 2·d·(h·d_h) + 2·d·d_h       (+ (h·d_h) + 2·d_h + d)       KV/token/layer = 2·d_h
 * GQA params = 2·d·(h·d_h) + 2·d·(g·d_h)   (+ (h·d_h) + 2·g·d_h + d)     KV/token/layer = 2·g·d_h
 * MLA params = d·c_q + c_q + c_q·h·(n+r)   [query; d·h·(n+r) when c_q = 0]
 *            + d·(c+r) + c + c·h·(n+v) + (h·v)·d   (no biases)          KV/token/layer = c + r
 * </pre>
 * With {@code h·d_h = d}: MQA/MHA = 1/2 + 1/(2h), GQA/MHA = 1/2 + g/(2h); KV ratios 1/h and g/h.
 *
 * <p><b>The article configuration</b> ({@link #articleConfig()}). The design's source article tabulates, for a
 * "hidden 256-style" model, parameters relative to MHA of MHA 1.0, MQA ≈ 0.56, GQA ≈ 0.75, MLA ≈ 0.42, and KV cache
 * 1, 1/h, g/h, ≈ 0.1. Its MQA and GQA figures are exactly {@code d = 256, h = 8, d_h = 32, g = 4} without biases
 * (0.5625 and 0.75). The article's MLA dimensions are not stated in our copy of the design, and a search of public
 * pages did not find the article, so MLA's are reconstructed here: DeepSeek-V2's structure (low-rank query and KV
 * latents, decoupled RoPE key) with both latents at {@code d/8 = 32} and each head's query/key width kept at MHA's
 * {@code d_h = 32}, split evenly into {@code n = 16} content and {@code r = 16} RoPE dimensions, {@code v = d_h = 32}.
 * That gives 106,560 parameters = 0.4065 of MHA's 262,144 (≈ 0.42) and a cache of {@code c + r = 48} elements per
 * token vs MHA's 512 = 0.094 (≈ 0.1). (Keeping {@code n = d_h} with {@code r = d_h/2}, DeepSeek's own ratio, gives
 * 0.438 and the same cache.)
 *
 * <p><b>The DeepSeek-like configuration</b> ({@link #deepSeekV2Config()}): DeepSeek-V2 (arXiv:2405.04434, §2.1 and
 * Appendix; HF {@code config.json}): hidden 5120, 128 heads, q_lora_rank 1536, kv_lora_rank 512, nope 128, rope 64,
 * v 128, 60 layers, 128K context, against an MHA of 128 heads × 128 (the paper's comparison): 576 cached elements
 * per token per layer vs 2·128·128 = 32,768.
 */
public final class CostModel {
    /** What the formulas' symbols stand for. */
    public static final String LEGEND = "d = hidden, h = heads, d_h = head_dim, g = GQA kv heads, c = kv_lora_rank, "
            + "c_q = q_lora_rank, n = qk_nope_head_dim, r = qk_rope_head_dim, v = v_head_dim, b = bytes per cached element (int8: + 4 B scale per cached row)";

    private CostModel() {
    }

    /** The configurations {@code attn cost} prints by default: the article's and a DeepSeek-V2-like one. */
    public static List<CostConfig> defaults() {
        return List.of(articleConfig(), deepSeekV2Config());
    }

    /** The design's source-article table: d 256, 8 heads of 32, GQA with 4 KV heads, MLA as described above. */
    public static CostConfig articleConfig() {
        return new CostConfig("article-256", 256, 8, 32, 4, false, new MlaDims(32, 32, 16, 16, 32), 2, 1, 1,
                "the design's source-article table (hidden 256-style: params MHA 1.0, MQA ~0.56, GQA ~0.75, MLA ~0.42; "
                        + "KV 1, 1/h, g/h, ~0.1); d 256, h 8, d_h 32, g 4 reproduce MQA/GQA exactly; MLA dims reconstructed "
                        + "(latents d/8 = 32, nope 16 + rope 16 = d_h, v = d_h), see CostModel");
    }

    /** DeepSeek-V2's attention dims, against an MHA of 128 heads × 128 and a GQA with 8 KV heads; bf16, 60 layers, 128K. */
    public static CostConfig deepSeekV2Config() {
        return new CostConfig("deepseek-v2", 5120, 128, 128, 8, false, new MlaDims(1536, 512, 128, 64, 128), 2, 60, 128 * 1024,
                "DeepSeek-V2 (arXiv:2405.04434; HF config.json): hidden 5120, 128 heads, q_lora 1536, kv_lora 512, nope 128, "
                        + "rope 64, v 128, 60 layers, 128K context; MHA/MQA/GQA use 128-wide heads as in the paper's comparison");
    }

    /** Every variant of {@code config}: MHA, MQA, GQA and, when {@code config.mla()} is set, MLA. */
    public static CostReport report(CostConfig config) {
        AttentionException.require(config != null, "config", "a cost config", "null");
        List<VariantCost> out = new ArrayList<>();
        out.add(cost(config, LayerVariant.MHA));
        out.add(cost(config, LayerVariant.MQA));
        out.add(cost(config, LayerVariant.GQA));
        if (config.mla() != null) out.add(cost(config, LayerVariant.MLA));
        return new CostReport(config, out, LEGEND);
    }

    /** One variant of {@code config}; MLA needs {@code config.mla()}. */
    public static VariantCost cost(CostConfig config, LayerVariant variant) {
        AttentionException.require(config != null, "config", "a cost config", "null");
        AttentionException.require(variant != null, "variant", "MHA, MQA, GQA or MLA", "null");
        if (variant == LayerVariant.MLA) {
            AttentionException.require(config.mla() != null, "config.mla", "MLA dims to cost the MLA variant", "null");
        }
        String label = switch (variant) {
            case GQA -> "GQA-" + config.kvGroups();
            default -> variant.name();
        };
        // Counts are exact longs; sizes whose counts do not fit are bad input, not an ArithmeticException.
        Counted mha;
        Counted self;
        long mhaParams;
        long params;
        long bytes;
        try {
            mha = count(config, LayerVariant.MHA);
            self = variant == LayerVariant.MHA ? mha : count(config, variant);
            mhaParams = sum(mha.weights);
            params = sum(self.weights);
            bytes = Math.addExact(Math.multiplyExact(self.kvElements, config.bytesPerElement()), scaleBytes(config, self.kvRows));
        } catch (ArithmeticException e) {
            throw AttentionException.invalid("config", "sizes whose parameter and KV-cache counts fit in a signed 64-bit integer "
                    + "(at most " + num(Long.MAX_VALUE) + ")", sizes(config) + " (" + label + " or its MHA baseline overflows)");
        }
        long total;
        try {
            total = Math.multiplyExact(Math.multiplyExact(bytes, config.contextLength()), config.layers());
        } catch (ArithmeticException e) {
            throw AttentionException.invalid("contextLength", "a context whose " + label + " KV-cache bytes (" + num(bytes)
                    + " B/token/layer · context · " + config.layers() + " layers) fit in a signed 64-bit integer", config.contextLength());
        }
        String scales = config.kvDtype() == DType.INT8
                ? " + (" + self.kvRowsSymbols + ")·4 (int8: a float32 scale per token and KV head)" : "";
        String scaleNumbers = config.kvDtype() == DType.INT8 ? " + " + num(self.kvRows) + "·4" : "";
        String kvBytesFormula = label + " KV bytes/token/layer = (" + self.kvElementsSymbols + ")·b" + scales + " = " + num(self.kvElements)
                + "·" + config.bytesPerElement() + scaleNumbers + " = " + num(bytes) + " B"
                + (config.kvDtype() == null ? "" : " (" + config.kvDtype() + ")");
        String kvTotalFormula = label + " KV bytes = bytes/token/layer · context · layers = " + num(bytes) + "·"
                + num(config.contextLength()) + "·" + config.layers() + " = " + num(total) + " B" + (total >= 1024 ? " (" + human(total) + ")" : "");
        return new VariantCost(variant, label, self.kvHeads, params, self.weights, (double) params / mhaParams,
                self.kvElements, bytes, (double) self.kvElements / mha.kvElements, config.contextLength(), config.layers(),
                total, label + " params = " + self.paramsSymbols + " = " + self.paramsNumbers + " = " + num(params),
                label + " KV elements/token/layer = " + self.kvElementsSymbols + " = " + self.kvElementsNumbers + " = "
                        + num(self.kvElements), kvBytesFormula, kvTotalFormula);
    }

    /** Parameters of one variant's layer (the sum of {@link VariantCost#weights()}). */
    public static long params(CostConfig config, LayerVariant variant) {
        return cost(config, variant).params();
    }

    /** Cached elements per token per layer of one variant. */
    public static long kvElementsPerToken(CostConfig config, LayerVariant variant) {
        return cost(config, variant).kvElementsPerToken();
    }

    /** A variant's weights, its KV width per token and the formulas' text, before totals. */
    private record Counted(List<WeightCount> weights, int kvHeads, long kvElements, String paramsSymbols,
                           String paramsNumbers, String kvElementsSymbols, String kvElementsNumbers, long kvRows, String kvRowsSymbols) {
    }

    /** int8's scales: 4 bytes per cached row (per token and KV head); no other type has any. */
    private static long scaleBytes(CostConfig c, long rows) {
        return c.kvDtype() == DType.INT8 ? Math.multiplyExact(rows, (long) Float.BYTES) : 0;
    }

    private static Counted count(CostConfig c, LayerVariant variant) {
        return switch (variant) {
            case MHA -> standard(c, c.heads(), "4·d·(h·d_h)", "3·(h·d_h) + d",
                    "4·" + c.hidden() + "·(" + c.heads() + "·" + c.headDim() + ")",
                    "3·(" + c.heads() + "·" + c.headDim() + ") + " + c.hidden(),
                    "2·h·d_h", "2·" + c.heads() + "·" + c.headDim());
            case MQA -> standard(c, 1, "2·d·(h·d_h) + 2·d·d_h", "(h·d_h) + 2·d_h + d",
                    "2·" + c.hidden() + "·(" + c.heads() + "·" + c.headDim() + ") + 2·" + c.hidden() + "·" + c.headDim(),
                    "(" + c.heads() + "·" + c.headDim() + ") + 2·" + c.headDim() + " + " + c.hidden(),
                    "2·d_h", "2·" + c.headDim());
            case GQA -> standard(c, c.kvGroups(), "2·d·(h·d_h) + 2·d·(g·d_h)", "(h·d_h) + 2·(g·d_h) + d",
                    "2·" + c.hidden() + "·(" + c.heads() + "·" + c.headDim() + ") + 2·" + c.hidden() + "·(" + c.kvGroups()
                            + "·" + c.headDim() + ")",
                    "(" + c.heads() + "·" + c.headDim() + ") + 2·(" + c.kvGroups() + "·" + c.headDim() + ") + " + c.hidden(),
                    "2·g·d_h", "2·" + c.kvGroups() + "·" + c.headDim());
            case MLA -> mla(c);
        };
    }

    /** MHA/MQA/GQA: {@code wq [h·d_h, d]}, {@code wk, wv [kv·d_h, d]}, {@code wo [d, h·d_h]} and optional biases. */
    private static Counted standard(CostConfig c, int kvHeads, String symbols, String biasSymbols, String numbers,
                                    String biasNumbers, String kvSymbols, String kvNumbers) {
        long d = c.hidden();
        long q = (long) c.heads() * c.headDim();
        long kv = (long) kvHeads * c.headDim();
        List<WeightCount> w = new ArrayList<>(List.of(WeightCount.matrix("wq", q, d), WeightCount.matrix("wk", kv, d),
                WeightCount.matrix("wv", kv, d), WeightCount.matrix("wo", d, q)));
        if (c.bias()) {
            w.addAll(List.of(WeightCount.vector("bq", q), WeightCount.vector("bk", kv), WeightCount.vector("bv", kv),
                    WeightCount.vector("bo", d)));
            symbols += " + " + biasSymbols + " (biases)";
            numbers += " + " + biasNumbers;
        }
        return new Counted(w, kvHeads, Math.multiplyExact(2L, kv), symbols, numbers, kvSymbols, kvNumbers, 2L * kvHeads,
                kvHeads == c.heads() ? "2·h" : kvHeads == 1 ? "2" : "2·g");
    }

    /** MLA as FORMAT.md lays it out (DeepSeek-V2/V3): no biases; RMSNorm gains are parameters too. */
    private static Counted mla(CostConfig c) {
        MlaDims m = c.mla();
        long d = c.hidden();
        long h = c.heads();
        long qk = (long) m.qkNopeHeadDim() + m.qkRopeHeadDim(); // as long: two int widths may not fit an int
        List<WeightCount> w = new ArrayList<>();
        String symbols;
        String numbers;
        String qkNumbers = "(" + m.qkNopeHeadDim() + "+" + m.qkRopeHeadDim() + ")";
        if (m.qLoraRank() == 0) {
            w.add(WeightCount.matrix("w_q", Math.multiplyExact(h, qk), d));
            symbols = "d·h·(n+r)";
            numbers = d + "·" + h + "·" + qkNumbers;
        } else {
            long cq = m.qLoraRank();
            w.add(WeightCount.matrix("w_q_a", cq, d));
            w.add(WeightCount.vector("q_a_norm", cq));
            w.add(WeightCount.matrix("w_q_b", Math.multiplyExact(h, qk), cq));
            symbols = "d·c_q + c_q + c_q·h·(n+r)";
            numbers = d + "·" + cq + " + " + cq + " + " + cq + "·" + h + "·" + qkNumbers;
        }
        long lat = m.kvLoraRank();
        w.add(WeightCount.matrix("w_kv_a", lat + m.qkRopeHeadDim(), d));
        w.add(WeightCount.vector("kv_a_norm", lat));
        w.add(WeightCount.matrix("w_kv_b", Math.multiplyExact(h, (long) m.qkNopeHeadDim() + m.vHeadDim()), lat));
        w.add(WeightCount.matrix("w_o", d, Math.multiplyExact(h, m.vHeadDim())));
        symbols += " + d·(c+r) + c + c·h·(n+v) + (h·v)·d";
        numbers += " + " + d + "·(" + lat + "+" + m.qkRopeHeadDim() + ") + " + lat + " + " + lat + "·" + h + "·("
                + m.qkNopeHeadDim() + "+" + m.vHeadDim() + ") + (" + h + "·" + m.vHeadDim() + ")·" + d;
        return new Counted(w, 1, lat + m.qkRopeHeadDim(), symbols, numbers, "c + r", lat + " + " + m.qkRopeHeadDim(), 1, "1");
    }

    /** The sizes of {@code c}, for an error message. */
    private static String sizes(CostConfig c) {
        String s = "hidden=" + c.hidden() + ", heads=" + c.heads() + ", headDim=" + c.headDim() + ", kvGroups=" + c.kvGroups();
        MlaDims m = c.mla();
        if (m != null) {
            s += ", qLoraRank=" + m.qLoraRank() + ", kvLoraRank=" + m.kvLoraRank() + ", qkNopeHeadDim=" + m.qkNopeHeadDim()
                    + ", qkRopeHeadDim=" + m.qkRopeHeadDim() + ", vHeadDim=" + m.vHeadDim();
        }
        return s;
    }

    private static long sum(List<WeightCount> weights) {
        long s = 0;
        for (WeightCount w : weights) s = Math.addExact(s, w.count());
        return s;
    }

    private static String num(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** Bytes (at least 1 KiB) in binary units, for reading: "12.0 MiB". */
    private static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
