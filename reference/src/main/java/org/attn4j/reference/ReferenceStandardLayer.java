package org.attn4j.reference;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

/**
 * The float64 MHA / MQA / GQA layer of FORMAT.md ("kind = layer, variant mha/mqa/gqa"):
 * {@code y = merge(attend(split(x Wq^T + bq), split(kv_x Wk^T + bk), split(kv_x Wv^T + bv))) Wo^T + bo},
 * weights in {@code nn.Linear} layout. Outputs are {@link DoubleTensor}s.
 */
public final class ReferenceStandardLayer implements LayerPlan {
    private final StandardLayerConfig config;
    private final AttentionSpec spec;
    private final DoubleTensor wq, bq, wk, bk, wv, bv, wo, bo;
    /** Set by {@link #close}: the plan then refuses to run, as the float32 backends' layer plans do. */
    private volatile boolean closed;

    /**
     * Made by {@link ReferenceBackend#planLayer}, which has validated the weights against the config.
     *
     * @param config  the layer
     * @param weights {@code wq [qHeads*headDim, hidden]}, {@code wk, wv [kvHeads*headDim, hidden]},
     *                {@code wo [hidden, qHeads*headDim]} and the biases when {@code config.bias()}
     */
    ReferenceStandardLayer(StandardLayerConfig config, StandardLayerWeights weights) {
        this.config = config;
        this.spec = config.attentionSpec();
        // Private float64 copies: later writes to the caller's arrays cannot change this plan.
        this.wq = copy(weights.wq());
        this.bq = copy(weights.bq());
        this.wk = copy(weights.wk());
        this.bk = copy(weights.bk());
        this.wv = copy(weights.wv());
        this.bv = copy(weights.bv());
        this.wo = copy(weights.wo());
        this.bo = copy(weights.bo());
    }

    private static DoubleTensor copy(Tensor t) {
        return t == null ? null : DoubleTensor.copyOf(t);
    }

    @Override
    public StandardLayerConfig config() {
        return config;
    }

    /**
     * @param x              {@code [B, qLen, hidden]}
     * @param kvX            {@code [B, kvLen, hidden]}, or {@code null} for self-attention ({@code kvX = x})
     * @param keyPaddingMask {@code [B, kvLen]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, qLen, hidden]}
     */
    @Override
    public DoubleTensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        requireOpen();
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        Tensor memory = kvX == null ? x : kvX;
        if (kvX != null) config.requireActivations("kvX", kvX, batch);
        int kvLen = memory.size(1);
        AttentionInputs inputs = AttentionInputs.of(queries(x), keys(memory), values(memory));
        if (keyPaddingMask != null) {
            keyPaddingMask.requireShape("keyPaddingMask", batch, kvLen);
            // [B, kvLen] seen as [B, 1, 1, kvLen]: the same storage, zero strides on the head and query axes.
            BoolTensor m4 = new BoolTensor(keyPaddingMask.data(), new int[]{batch, 1, 1, kvLen},
                    new int[]{keyPaddingMask.stride(0), 0, 0, keyPaddingMask.stride(1)}, keyPaddingMask.offset());
            inputs = inputs.withMask(m4);
        }
        return output(ReferenceAttention.attend(spec, inputs).out());
    }

    /** A float64 cache of {@code batch} sequences with {@code kvHeads} heads of width {@code headDim}. */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return new ContiguousKvCache(config.cacheSpec(DType.FLOAT64, batch, maxLength));
    }

    /**
     * Projects the chunk {@code x [B, n, hidden]}, appends its keys and values to {@code cache} (any cache whose
     * dimensions match this layer: {@code B} sequences, {@code kvHeads}, {@code headDim} for K and V, float32 or
     * float64), then attends the chunk's queries over each sequence's whole cache, bottom-right aligned.
     * Everything is checked before the append: a failed call leaves the cache unchanged.
     *
     * @return {@code y [B, n, hidden]}
     */
    @Override
    public DoubleTensor step(Tensor x, KvCache cache) {
        requireOpen();
        config.requireStep(x, cache); // shapes, cache geometry, alignment, room: before anything is appended
        DoubleTensor q = queries(x);
        Tensors.requireFinite("x (projected queries)", q);
        // append validates K/V (shape, finiteness, capacity, free pages) before it writes anything.
        cache.append(keys(x), values(x));
        return output(ReferenceAttention.attend(spec, cache.gather(q)).out());
    }

    /** {@code x [B, L, hidden]} to queries {@code [B, qHeads, L, headDim]}. */
    private DoubleTensor queries(Tensor x) {
        return ReferenceMath.splitHeads(ReferenceMath.linear(x, wq, bq), config.qHeads(), config.headDim());
    }

    /** {@code x [B, L, hidden]} to keys {@code [B, kvHeads, L, headDim]}. */
    private DoubleTensor keys(Tensor x) {
        return ReferenceMath.splitHeads(ReferenceMath.linear(x, wk, bk), config.kvHeads(), config.headDim());
    }

    /** {@code x [B, L, hidden]} to values {@code [B, kvHeads, L, headDim]}. */
    private DoubleTensor values(Tensor x) {
        return ReferenceMath.splitHeads(ReferenceMath.linear(x, wv, bv), config.kvHeads(), config.headDim());
    }

    /** Attention output {@code [B, qHeads, L, headDim]} to {@code y [B, L, hidden]}. */
    private DoubleTensor output(Tensor attended) {
        return ReferenceMath.linear(ReferenceMath.mergeHeads(attended), wo, bo);
    }

    private void requireOpen() {
        if (closed) throw new AttentionException("reference: the layer plan is closed (" + config + ")");
    }

    /** Nothing to release (the weights are heap arrays); later {@link #forward} and {@link #step} calls fail. */
    @Override
    public void close() {
        closed = true;
    }
}
