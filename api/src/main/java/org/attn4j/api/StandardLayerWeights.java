package org.attn4j.api;

/**
 * Weights of an MHA/MQA/GQA layer. Biases are {@code null} when the config has {@code bias = false}.
 *
 * @param wq {@code [qHeads*headDim, hidden]}, {@code bq [qHeads*headDim]}
 * @param wk {@code [kvHeads*headDim, hidden]}, {@code bk [kvHeads*headDim]}
 * @param wv {@code [kvHeads*headDim, hidden]}, {@code bv [kvHeads*headDim]}
 * @param wo {@code [hidden, qHeads*headDim]}, {@code bo [hidden]}
 */
public record StandardLayerWeights(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo)
        implements LayerWeights {

    @Override
    public void validate(LayerConfig config) {
        if (!(config instanceof StandardLayerConfig c)) {
            throw AttentionException.invalid("config", "a StandardLayerConfig for StandardLayerWeights", config.getClass().getSimpleName());
        }
        int q = c.qHeads() * c.headDim();
        int kv = c.kvHeads() * c.headDim();
        check("wq", wq, q, c.hidden());
        check("wk", wk, kv, c.hidden());
        check("wv", wv, kv, c.hidden());
        check("wo", wo, c.hidden(), q);
        if (c.bias()) {
            check("bq", bq, q);
            check("bk", bk, kv);
            check("bv", bv, kv);
            check("bo", bo, c.hidden());
        } else {
            for (var e : new Object[][]{{"bq", bq}, {"bk", bk}, {"bv", bv}, {"bo", bo}}) {
                AttentionException.require(e[1] == null, (String) e[0], "absent (config.bias = false)", "a tensor");
            }
        }
    }

    static void check(String name, Tensor t, int... shape) {
        AttentionException.require(t != null, name, "a tensor of shape " + java.util.Arrays.toString(shape), "null");
        AttentionException.require(t.dtype().isFloating(), name + ".dtype", "FLOAT32 or FLOAT64", t.dtype());
        t.requireShape(name, shape);
        Tensors.requireFinite(name, t);
    }
}
