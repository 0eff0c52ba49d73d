package org.attn4j.reference.mla;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;
import org.attn4j.reference.ReferenceAttention;
import org.attn4j.reference.ReferenceMath;

import java.util.Arrays;

/**
 * The float64 multi-head latent attention layer of FORMAT.md ("kind = layer, variant mla"; DeepSeek-V2/V3, no
 * biases, no YaRN). Outputs are {@link DoubleTensor}s.
 *
 * <p>Per token, with {@code H} heads, widths {@code nope}, {@code rope}, {@code v} and latent width {@code c}:
 * <pre>
 * q            = x w_q^T                                   (q_lora_rank == 0)
 *              = RMSNorm(x w_q_a^T; q_a_norm) w_q_b^T      (q_lora_rank  > 0)   per head [q_nope | q_pe]
 * [c_raw|k_pe] = x w_kv_a^T;  c_kv = RMSNorm(c_raw; kv_a_norm)                   k_pe shared by all heads
 * q_pe, k_pe   rotated by RoPE at position position_offset + t
 * per head h:  W_UK_h = w_kv_b rows [h(nope+v), h(nope+v)+nope),  W_UV_h = the next v rows   ([*, c] each)
 * </pre>
 * Two evaluation orders, chosen by {@link PlanOptions#mlaPath()}, which agree to rounding (DeepSeek-V2 §2.1.3):
 * <ul>
 *   <li>{@code NAIVE}: decompress the latents into per-head {@code K_h = [c_kv W_UK_h^T | k_pe]} and
 *       {@code V_h = c_kv W_UV_h^T} and run ordinary attention ({@link MlaLayerConfig#attentionSpec()}).</li>
 *   <li>{@code ABSORBED}: fold {@code W_UK_h} into the query, {@code q_lat_h = q_nope_h W_UK_h} (width {@code c}),
 *       and attend over the latent cache as one shared KV head (MQA) with keys {@code [c_kv | k_pe]}, values
 *       {@code c_kv} and query {@code [q_lat_h | q_pe_h]}: the score {@code q_lat·c_kv + q_pe·k_pe} equals
 *       {@code q_nope·k_nope + q_pe·k_pe}. Then {@code out_h = o_lat_h W_UV_h^T}.</li>
 * </ul>
 * Both end with {@code y = merge(out) w_o^T}. The KV cache ({@link #newCache}) is the latent cache of either path:
 * one "head" of width {@code c + rope} holding the normalised {@code c_kv} and the rotated {@code k_pe}, no values.
 */
public final class ReferenceMlaLayer implements LayerPlan {
    private final MlaLayerConfig config;
    private final PlanOptions.MlaPath path;
    private final int heads;
    private final int nope;
    private final int rope;
    private final int vDim;
    private final int latent;          // c = kv_lora_rank
    private final int qkDim;           // nope + rope
    private final double scale;
    // Private float64 copies: later writes to the caller's arrays cannot change this plan.
    private final DoubleTensor wQ, wQA, wQB, wKvA, wO;
    private final double[] qANorm, kvANorm;
    private final double[] wKvB;       // [H*(nope+v), c] row-major
    /** Set by {@link #close}: the plan then refuses to run, as the float32 backends' layer plans do. */
    private volatile boolean closed;

    /**
     * @param config  the layer
     * @param weights shapes as in {@link MlaLayerWeights} (checked by {@link MlaLayerWeights#validate})
     * @param options {@link PlanOptions#mlaPath()} picks the naive or absorbed path; threads are ignored
     */
    public ReferenceMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
        AttentionException.require(config != null, "config", "an MLA layer config", "null");
        AttentionException.require(weights != null, "weights", "MLA layer weights", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        weights.validate(config);
        this.config = config;
        this.path = options.mlaPath();
        this.heads = config.qHeads();
        this.nope = config.qkNopeHeadDim();
        this.rope = config.qkRopeHeadDim();
        this.vDim = config.vHeadDim();
        this.latent = config.kvLoraRank();
        this.qkDim = config.qkHeadDim();
        this.scale = config.attentionSpec().effectiveScale();
        this.wQ = copy(weights.wQ());
        this.wQA = copy(weights.wQA());
        this.wQB = copy(weights.wQB());
        this.qANorm = weights.qANorm() == null ? null : weights.qANorm().toDoubleArray();
        this.wKvA = copy(weights.wKvA());
        this.kvANorm = weights.kvANorm().toDoubleArray();
        this.wKvB = weights.wKvB().toDoubleArray();
        this.wO = copy(weights.wO());
    }

    private static DoubleTensor copy(Tensor t) {
        return t == null ? null : DoubleTensor.copyOf(t);
    }

    @Override
    public MlaLayerConfig config() {
        return config;
    }

    /** Which evaluation order this plan uses. */
    public PlanOptions.MlaPath path() {
        return path;
    }

    /**
     * Self-attention over {@code x}; token {@code t} sits at position {@code position_offset + t}.
     *
     * @param x              {@code [B, L, hidden]}
     * @param kvX            must be {@code null}: MLA layers are self-attention only
     * @param keyPaddingMask {@code [B, L]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, L, hidden]}
     */
    @Override
    public DoubleTensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        requireOpen();
        AttentionException.require(kvX == null, "kvX", "null (MLA layers are self-attention only)", "a tensor "
                + Arrays.toString(kvX == null ? new int[0] : kvX.shape()));
        config.requireActivations("x", x, -1);
        int batch = x.size(0);
        int len = x.size(1);
        BoolTensor mask = null;
        if (keyPaddingMask != null) {
            keyPaddingMask.requireShape("keyPaddingMask", batch, len);
            // [B, L] seen as [B, 1, 1, L]: the same storage, zero strides on the head and query axes.
            mask = new BoolTensor(keyPaddingMask.data(), new int[]{batch, 1, 1, len},
                    new int[]{keyPaddingMask.stride(0), 0, 0, keyPaddingMask.stride(1)}, keyPaddingMask.offset());
        }
        long[] start = new long[batch];
        Arrays.fill(start, config.positionOffset());
        DoubleTensor q = queries(x, start);
        DoubleTensor latents = latents(x, start);
        return output(attend(q, latents, null, mask, config.alignment()));
    }

    /**
     * A float64 latent cache for {@link #step}: {@code batch} sequences, one "head" of width
     * {@code kv_lora_rank + rope} holding {@code [c_kv | k_pe]} per token (normalised and rotated), no values.
     */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return new ContiguousKvCache(config.cacheSpec(DType.FLOAT64, batch, maxLength));
    }

    /**
     * Projects the chunk {@code x [B, n, hidden]}, appends its latents to {@code cache} and attends the chunk's queries
     * over each sequence's whole cache, bottom-right aligned. Sequence {@code s}'s new tokens sit at positions
     * {@code position_offset + cache.length(s) + t}. Works from the latent cache on both paths (the naive path
     * decompresses it). {@code cache} must be a keys-only cache of this layer's geometry (as {@link #newCache} makes;
     * float32 caches are accepted and round the latents). Everything is checked before the append: a failed call
     * leaves the cache unchanged.
     *
     * @return {@code y [B, n, hidden]}
     */
    @Override
    public DoubleTensor step(Tensor x, KvCache cache) {
        requireOpen();
        config.requireStep(x, cache); // shapes, latent-cache geometry, alignment, room: before anything is appended
        int batch = x.size(0);
        int n = x.size(1);
        long[] start = new long[batch];
        for (int s = 0; s < batch; s++) start[s] = (long) config.positionOffset() + cache.length(s);
        DoubleTensor q = queries(x, start);
        Tensors.requireFinite("x (projected queries)", q);
        DoubleTensor chunk = latents(x, start);
        // append checks shape, finiteness and capacity before it writes anything.
        cache.append(chunk.reshape(batch, 1, n, config.latentWidth()), null);

        int kvLen = cache.maxCurrentLength();
        int[] kvLens = new int[batch];
        DoubleTensor all = DoubleTensor.zeros(batch, kvLen, config.latentWidth());
        for (int s = 0; s < batch; s++) {
            kvLens[s] = cache.length(s);
            Tensors.copyInto(cache.keys(s).select(0, 0), all.select(0, s).slice(0, 0, kvLens[s]));
        }
        return output(attend(q, all, kvLens, null, Alignment.BOTTOM_RIGHT));
    }

    /**
     * Queries {@code [B, H, L, nope + rope]} with {@code q_pe} rotated; token {@code t} of sequence {@code b} sits at
     * position {@code start[b] + t}.
     */
    private DoubleTensor queries(Tensor x, long[] start) {
        DoubleTensor flat;   // [B, L, H*(nope+rope)]
        if (config.qLoraRank() == 0) {
            flat = ReferenceMath.linear(x, wQ, null);
        } else {
            DoubleTensor qa = ReferenceMath.linear(x, wQA, null);   // [B, L, q_lora_rank], contiguous
            int r = config.qLoraRank();
            for (int row = 0; row < qa.elementCount() / r; row++) RmsNorm.apply(qa.data(), row * r, r, qANorm, config.rmsEps());
            flat = ReferenceMath.linear(qa, wQB, null);
        }
        int batch = x.size(0);
        int len = x.size(1);
        double[] d = flat.data();
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                for (int h = 0; h < heads; h++) {
                    int at = ((b * len + t) * heads + h) * qkDim + nope;   // q_pe of head h at [b, t]
                    Rope.rotate(d, at, rope, start[b] + t, config.ropeTheta(), config.ropeInterleaved());
                }
            }
        }
        return ReferenceMath.splitHeads(flat, heads, qkDim);
    }

    /** The latents {@code [B, L, c + rope]}: normalised {@code c_kv}, then rotated {@code k_pe}. */
    private DoubleTensor latents(Tensor x, long[] start) {
        DoubleTensor lat = ReferenceMath.linear(x, wKvA, null);   // contiguous, offset 0
        int width = config.latentWidth();
        int batch = x.size(0);
        int len = x.size(1);
        double[] d = lat.data();
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                int at = (b * len + t) * width;
                RmsNorm.apply(d, at, latent, kvANorm, config.rmsEps());
                Rope.rotate(d, at + latent, rope, start[b] + t, config.ropeTheta(), config.ropeInterleaved());
            }
        }
        return lat;
    }

    /**
     * Attention of the queries over the latents on this plan's path.
     *
     * @param q         {@code [B, H, Lq, nope + rope]}, RoPE applied
     * @param latents   {@code [B, Lk, c + rope]}, contiguous
     * @param kvLens    {@code [B]} valid latents per sequence, or {@code null} (all {@code Lk})
     * @param mask      {@code [B, 1, 1, Lk]} key mask, or {@code null}
     * @param alignment the causal diagonal's alignment
     * @return {@code [B, H, Lq, v]}
     */
    private Tensor attend(DoubleTensor q, DoubleTensor latents, int[] kvLens, BoolTensor mask, Alignment alignment) {
        return path == PlanOptions.MlaPath.NAIVE
                ? attendNaive(q, latents, kvLens, mask, alignment)
                : attendAbsorbed(q, latents, kvLens, mask, alignment);
    }

    /** Decompress: per head {@code K_h = [c_kv W_UK_h^T | k_pe]}, {@code V_h = c_kv W_UV_h^T}; ordinary attention. */
    private Tensor attendNaive(DoubleTensor q, DoubleTensor latents, int[] kvLens, BoolTensor mask, Alignment alignment) {
        int batch = latents.size(0);
        int kvLen = latents.size(1);
        int width = config.latentWidth();
        double[] lat = latents.data();
        double[] k = new double[Tensor.elementCount(batch, heads, kvLen, qkDim)];
        double[] v = new double[Tensor.elementCount(batch, heads, kvLen, vDim)];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < kvLen; j++) {
                int cAt = (b * kvLen + j) * width;                       // c_kv[b, j], then k_pe at + latent
                for (int h = 0; h < heads; h++) {
                    int kAt = ((b * heads + h) * kvLen + j) * qkDim;     // K[b, h, j, :]
                    int vAt = ((b * heads + h) * kvLen + j) * vDim;      // V[b, h, j, :]
                    int wUk = h * (nope + vDim) * latent;                // first row of W_UK_h
                    int wUv = wUk + nope * latent;                       // first row of W_UV_h
                    for (int m = 0; m < nope; m++) k[kAt + m] = dot(wKvB, wUk + m * latent, lat, cAt, latent);
                    System.arraycopy(lat, cAt + latent, k, kAt + nope, rope);
                    for (int m = 0; m < vDim; m++) v[vAt + m] = dot(wKvB, wUv + m * latent, lat, cAt, latent);
                }
            }
        }
        AttentionSpec spec = config.attentionSpec().toBuilder().alignment(alignment).build();
        AttentionInputs inputs = AttentionInputs.of(q, DoubleTensor.of(k, batch, heads, kvLen, qkDim),
                DoubleTensor.of(v, batch, heads, kvLen, vDim));
        if (kvLens != null) inputs = inputs.withKvLens(kvLens);
        if (mask != null) inputs = inputs.withMask(mask);
        return ReferenceAttention.attend(spec, inputs).out();
    }

    /**
     * Absorb {@code W_UK} into the query and attend over the latents as one shared KV head (keys {@code [c_kv | k_pe]},
     * values {@code c_kv}), with this layer's scale; then apply {@code W_UV} per head.
     */
    private Tensor attendAbsorbed(DoubleTensor q, DoubleTensor latents, int[] kvLens, BoolTensor mask, Alignment alignment) {
        int batch = q.size(0);
        int qLen = q.size(2);
        int kvLen = latents.size(1);
        int width = config.latentWidth();
        double[] qd = q.data();                                          // splitHeads returns a contiguous copy
        double[] qa = new double[Tensor.elementCount(batch, heads, qLen, width)];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int wUk = h * (nope + vDim) * latent;
                for (int i = 0; i < qLen; i++) {
                    int row = (b * heads + h) * qLen + i;
                    int qAt = row * qkDim;                                  // q[b, h, i, :] = [q_nope | q_pe]
                    int aAt = row * width;                                  // q_abs[b, h, i, :] = [q_lat | q_pe]
                    // q_lat = q_nope W_UK_h: a sum over the nope rows of W_UK_h.
                    for (int m = 0; m < nope; m++) {
                        double qm = qd[qAt + m];
                        int wRow = wUk + m * latent;
                        for (int c = 0; c < latent; c++) qa[aAt + c] += qm * wKvB[wRow + c];
                    }
                    System.arraycopy(qd, qAt + nope, qa, aAt + latent, rope);
                }
            }
        }
        DoubleTensor keys = latents.reshape(batch, 1, kvLen, width);
        DoubleTensor values = keys.slice(3, 0, latent).copy();          // c_kv only
        AttentionSpec spec = AttentionSpec.builder(heads, 1, width).vHeadDim(latent).scale(scale)
                .causal(config.causal()).alignment(alignment).softcap(config.softcap()).build();
        AttentionInputs inputs = AttentionInputs.of(DoubleTensor.of(qa, batch, heads, qLen, width), keys, values);
        if (kvLens != null) inputs = inputs.withKvLens(kvLens);
        if (mask != null) inputs = inputs.withMask(mask);
        double[] oLat = ReferenceAttention.attend(spec, inputs).out().toDoubleArray();   // [B, H, Lq, c]

        double[] out = new double[Tensor.elementCount(batch, heads, qLen, vDim)];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int wUv = (h * (nope + vDim) + nope) * latent;            // first row of W_UV_h
                for (int i = 0; i < qLen; i++) {
                    int row = (b * heads + h) * qLen + i;
                    for (int m = 0; m < vDim; m++) out[row * vDim + m] = dot(wKvB, wUv + m * latent, oLat, row * latent, latent);
                }
            }
        }
        return DoubleTensor.of(out, batch, heads, qLen, vDim);
    }

    /** Attention output {@code [B, H, L, v]} to {@code y [B, L, hidden]}. */
    private DoubleTensor output(Tensor attended) {
        return ReferenceMath.linear(ReferenceMath.mergeHeads(attended), wO, null);
    }

    private static double dot(double[] a, int aAt, double[] b, int bAt, int n) {
        double acc = 0;
        for (int i = 0; i < n; i++) acc += a[aAt + i] * b[bAt + i];
        return acc;
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
