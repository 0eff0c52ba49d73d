package org.attn4j.api;

/**
 * A layer with its weights, prepared by a backend. Thread-safe for {@link #forward}; a {@link KvCache} must
 * not be shared by concurrent {@link #step} calls.
 */
public interface LayerPlan extends AutoCloseable {
    LayerConfig config();

    /**
     * One whole call.
     *
     * @param x              {@code [B, qLen, hidden]}
     * @param kvX            cross-attention memory {@code [B, kvLen, hidden]}, or {@code null} for self-attention
     * @param keyPaddingMask {@code [B, kvLen]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, qLen, hidden]}
     */
    Tensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask);

    /** A cache for {@link #step}: K/V per KV head (MHA/MQA/GQA) or the latent {@code [c_kv | k_pe]} (MLA). */
    KvCache newCache(int batch, int maxLength);

    /**
     * A cache for {@link #step} stored as {@code storage} (e.g. {@link DType#BFLOAT16} or {@link DType#INT8}: the
     * layer's keys and values are rounded or quantized by {@link Quantization} as they are appended). By default a
     * {@link ContiguousKvCache} of {@link LayerConfig#cacheSpec}; backends return their own layout.
     */
    default KvCache newCache(int batch, int maxLength, DType storage) {
        return new ContiguousKvCache(config().cacheSpec(storage, batch, maxLength));
    }

    /**
     * Self-attention over a chunk of new tokens: projects {@code x [B, n, hidden]}, appends its keys/values (or latent)
     * to {@code cache}, and attends the chunk's queries over everything cached, bottom-right aligned.
     * Returns {@code y [B, n, hidden]}. Fails before appending anything when the chunk does not fit.
     */
    Tensor step(Tensor x, KvCache cache);

    @Override
    default void close() {
    }
}
