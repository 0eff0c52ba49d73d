package org.attn4j.kernels.gpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.Float32Range;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A multi-head latent attention layer (FORMAT.md "variant mla") on the device. By default on the absorbed path:
 * {@code W_UK} is folded into the query ({@code q_lat_h = q_nope_h W_UK_h}), attention runs with the ordinary
 * {@code attend} kernel as MQA over the latent cache (one KV head, keys {@code [c_kv | k_pe]}, values the same rows'
 * first {@code c} columns, read in place), then {@code W_UV_h} and {@code w_o} project out.
 *
 * <p>{@link PlanOptions.MlaPath#NAIVE} runs the other order, as DeepSeek's reference code does: the latents attended
 * (on a {@code step}, the whole latent cache) are decompressed into per-head keys {@code K_h = [c_kv W_UK_h^T | k_pe]}
 * and values {@code V_h = c_kv W_UV_h^T} by two {@code linear} launches, then ordinary MHA runs on them. The key
 * weights carry an identity block for {@code k_pe} (so the copy is one exact matmul, {@code 1·x + 0·y}). It exists so
 * that the TCK's {@code mla-paths-agree} compares two different computations.
 *
 * <p>RMSNorm and RoPE run on the device; RoPE's cos/sin tables are computed on the host in double. Precision follows
 * the weights as for {@link OpenClStandardLayer}. Calls on one plan are serialised.
 */
final class OpenClMlaLayer implements LayerPlan {
    private final MlaLayerConfig config;
    private final ClContext ctx;
    private final RealType real;
    private final int splitOverride;
    private final boolean naive;
    private final int heads, nope, rope, vDim, latent, qk, width;
    private final double scale;
    private KernelSet ks;
    private ClScope weightScope;
    private long wQ, wQA, qANorm, wQB, wKvA, kvANorm, wUkT, wKvB, wO;
    private long wKNaive, wVNaive; // the naive path's decompression weights
    private boolean closed;

    /** {@code w} has been validated against {@code config} (by {@link OpenClBackend#planLayer}). */
    OpenClMlaLayer(ClContext ctx, MlaLayerConfig config, MlaLayerWeights w, PlanOptions.MlaPath path, int splitOverride) {
        this.config = config;
        this.splitOverride = splitOverride;
        this.naive = path == PlanOptions.MlaPath.NAIVE;
        this.heads = config.qHeads();
        this.nope = config.qkNopeHeadDim();
        this.rope = config.qkRopeHeadDim();
        this.vDim = config.vHeadDim();
        this.latent = config.kvLoraRank();
        this.qk = config.qkHeadDim();
        this.width = config.latentWidth();
        this.scale = config.attentionSpec().effectiveScale();
        this.real = DeviceInputs.pathFor(ctx.device(), w.wQ(), w.wQA(), w.qANorm(), w.wQB(), w.wKvA(), w.kvANorm(), w.wKvB(), w.wO());
        String[] names = {"w_q", "w_q_a", "q_a_norm", "w_q_b", "w_kv_a", "kv_a_norm", "w_kv_b", "w_o"};
        Tensor[] weights = {w.wQ(), w.wQA(), w.qANorm(), w.wQB(), w.wKvA(), w.kvANorm(), w.wKvB(), w.wO()};
        for (int i = 0; i < names.length; i++) LayerRange.requireFits(real, names[i], weights[i]);
        ctx.retain();
        this.ctx = ctx;
        try {
            ks = new KernelSet(ctx, real);
            if (naive) ks.requireTiles(ks.tiles(1, qk, vDim), qk, vDim);
            else ks.requireTiles(ks.tiles(1, width, latent), width, latent);
            weightScope = new ClScope(ctx);
            if (config.qLoraRank() == 0) {
                wQ = weightScope.upload(w.wQ(), real);
            } else {
                wQA = weightScope.upload(w.wQA(), real);
                qANorm = weightScope.upload(w.qANorm(), real);
                wQB = weightScope.upload(w.wQB(), real);
            }
            wKvA = weightScope.upload(w.wKvA(), real);
            kvANorm = weightScope.upload(w.kvANorm(), real);
            wKvB = weightScope.upload(w.wKvB(), real);
            wO = weightScope.upload(w.wO(), real);
            if (naive) {
                wKNaive = weightScope.upload(naiveKeyWeights(w.wKvB()), real);
                wVNaive = weightScope.upload(naiveValueWeights(w.wKvB()), real);
            } else {
                wUkT = weightScope.upload(absorbedKeyWeights(w.wKvB()), real);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** {@code W_UK_h^T} for every head, {@code [heads, c, nope]}: the absorption as an nn.Linear weight per head. */
    private Tensor absorbedKeyWeights(Tensor wKvB) {
        double[] src = wKvB.toDoubleArray(); // [H*(nope+v), c]
        double[] out = new double[heads * latent * nope];
        for (int h = 0; h < heads; h++) {
            for (int m = 0; m < nope; m++) {
                int row = (h * (nope + vDim) + m) * latent;
                for (int c = 0; c < latent; c++) out[(h * latent + c) * nope + m] = src[row + c];
            }
        }
        return DoubleTensor.of(out, heads, latent, nope);
    }

    /**
     * The naive path's key decompression as one nn.Linear weight {@code [H * (nope + rope), c + rope]}: row
     * {@code h(nope+rope) + m} is {@code W_UK_h[m, :]} followed by zeros, row {@code h(nope+rope) + nope + p} picks
     * {@code k_pe[p]} (a one at column {@code c + p}), so {@code latents · W^T} is every head's {@code [c_kv W_UK_h^T | k_pe]}.
     */
    private Tensor naiveKeyWeights(Tensor wKvB) {
        double[] src = wKvB.toDoubleArray(); // [H*(nope+v), c]
        double[] out = new double[heads * qk * width];
        for (int h = 0; h < heads; h++) {
            for (int m = 0; m < nope; m++) {
                System.arraycopy(src, (h * (nope + vDim) + m) * latent, out, (h * qk + m) * width, latent);
            }
            for (int p = 0; p < rope; p++) out[(h * qk + nope + p) * width + latent + p] = 1;
        }
        return DoubleTensor.of(out, heads * qk, width);
    }

    /** {@code W_UV_h} of every head stacked, {@code [H * v, c]}: {@code c_kv · W^T} is every head's values. */
    private Tensor naiveValueWeights(Tensor wKvB) {
        double[] src = wKvB.toDoubleArray();
        double[] out = new double[heads * vDim * latent];
        for (int h = 0; h < heads; h++) {
            System.arraycopy(src, (h * (nope + vDim) + nope) * latent, out, h * vDim * latent, vDim * latent);
        }
        return DoubleTensor.of(out, heads * vDim, latent);
    }

    @Override
    public MlaLayerConfig config() {
        return config;
    }

    /**
     * Self-attention; token {@code t} sits at position {@code position_offset + t}.
     *
     * @param x              {@code [B, L, hidden]}
     * @param kvX            must be {@code null} (MLA layers are self-attention only)
     * @param keyPaddingMask {@code [B, L]}, {@code true} = keep, or {@code null}
     * @return {@code y [B, L, hidden]}
     */
    @Override
    public Tensor forward(Tensor x, Tensor kvX, BoolTensor keyPaddingMask) {
        AttentionException.require(kvX == null, "kvX", "null (MLA layers are self-attention only)", "a tensor");
        config.requireActivations("x", x, -1);
        int batch = x.size(0), len = x.size(1);
        if (keyPaddingMask != null) keyPaddingMask.requireShape("keyPaddingMask", batch, len);
        LayerRange.requireFits(real, "x", x);
        long[] start = new long[batch];
        Arrays.fill(start, config.positionOffset());
        synchronized (this) {
            requireOpen();
            try (ClScope scope = new ClScope(ctx)) {
                long xb = scope.upload(x, real);
                long[] table = ropeTables(scope, start, len);
                if (naive) {
                    long q = projectedQueries(scope, xb, batch * len, table);
                    long lat = latents(scope, xb, batch * len, table);
                    AttendCall call = naiveCall(scope, lat, batch, len, config.alignment());
                    call.qLen = len;
                    call.q(q, len * heads * qk, qk, heads * qk);
                    if (keyPaddingMask != null && keyPaddingMask.elementCount() > 0) {
                        call.mask = scope.uploadBools(keyPaddingMask);
                        call.maskStrides = new int[]{len, 0, 0, 1};
                    }
                    return attendNaiveAndProject(scope, call, batch, len);
                }
                long qAbs = queries(scope, xb, batch * len, table);
                long lat = latents(scope, xb, batch * len, table);
                AttendCall call = new AttendCall();
                call.spec = absorbedSpec(config.alignment());
                call.batch = batch;
                call.qLen = len;
                call.kvLen = len;
                call.q(qAbs, len * heads * width, width, heads * width);
                call.k(lat, len * width, 0, width);
                call.v(lat, len * width, 0, width);
                if (keyPaddingMask != null && keyPaddingMask.elementCount() > 0) {
                    call.mask = scope.uploadBools(keyPaddingMask);
                    call.maskStrides = new int[]{len, 0, 0, 1}; // [B, L] seen as [B, 1, 1, L]
                }
                return attendAndProject(scope, call, batch, len, () -> {
                    double latents = LayerRange.maxAbs(scope, real, lat, (long) batch * len * width, "x (latents)");
                    return new Float32Range.Magnitudes(scale, width, len, len)
                            .q("x (absorbed queries)", LayerRange.maxAbs(scope, real, qAbs, (long) batch * len * heads * width, "x (absorbed queries)"))
                            .k("x (latents)", latents).v("x (latents)", latents);
                });
            }
        }
    }

    /** A latent cache in this layer's precision: one "head" of width {@code kv_lora_rank + rope}, no values. */
    @Override
    public KvCache newCache(int batch, int maxLength) {
        return newCache(batch, maxLength, real.dtype);
    }

    /**
     * A device-resident {@link OpenClKvCache} of this layer's geometry in {@code storage} (any real type: float16,
     * bfloat16 and int8 are appended by {@code Quantization} and read by the kernel as stored).
     */
    @Override
    public KvCache newCache(int batch, int maxLength, DType storage) {
        synchronized (this) {
            requireOpen();
        }
        return OpenClKvCache.contiguous(ctx, config.cacheSpec(storage, batch, maxLength));
    }

    /**
     * Projects {@code x [B, n, hidden]}, appends its latents {@code [c_kv | k_pe]} to {@code cache} (a keys-only cache
     * of width {@code kv_lora_rank + rope}, contiguous or paged), and attends the chunk over each sequence's whole cache
     * (bottom-right). Sequence {@code s}'s new tokens sit at positions {@code position_offset + length(s) + t}.
     *
     * @return {@code y [B, n, hidden]}
     */
    @Override
    public Tensor step(Tensor x, KvCache cache) {
        config.requireStep(x, cache); // shapes, latent-cache geometry, alignment, room: before anything is appended
        LayerRange.requireFits(real, "x", x);
        int batch = x.size(0), n = x.size(1);
        long[] start = new long[batch];
        for (int s = 0; s < batch; s++) start[s] = (long) config.positionOffset() + cache.length(s);
        synchronized (this) {
            requireOpen();
            try (ClScope scope = new ClScope(ctx)) {
                long xb = scope.upload(x, real);
                long[] table = ropeTables(scope, start, n);
                long qAbs = naive ? projectedQueries(scope, xb, batch * n, table) : queries(scope, xb, batch * n, table);
                long lat = latents(scope, xb, batch * n, table);
                // The cache lives on the host: bring the chunk's latents back and append (validated before writing).
                int[] before = cache.lengths();
                cache.append(scope.readTensor(lat, real, batch, 1, n, width), null);
                try {
                    if (naive) return naiveStep(scope, qAbs, cache, batch, n);
                    AttendCall call = new AttendCall();
                    AttentionSpec spec = absorbedSpec(Alignment.BOTTOM_RIGHT);
                    call.spec = spec;
                    call.qLen = n;
                    DeviceInputs.bindLatentCache(call, scope, cache, real);
                    call.q(qAbs, n * heads * width, width, heads * width);
                    return attendAndProject(scope, call, batch, n, () -> {
                        LayerRange.maxAbs(scope, real, qAbs, (long) batch * n * heads * width, "x (absorbed queries)");
                        Tensor queries = scope.readTensor(qAbs, real, batch, n, heads, width).permute(0, 2, 1, 3);
                        return Float32Range.magnitudes(spec, queries, cache, "x (absorbed queries)");
                    });
                } catch (RuntimeException e) {
                    cache.restoreLengths(before); // a failed step leaves the cache as it found it
                    throw e;
                }
            }
        }
    }

    /**
     * The naive step: the whole latent cache, gathered dense {@code [B, maxLen, c + rope]} (each sequence up to its
     * length), decompressed and attended bottom-right by the chunk's queries {@code q [B, n, H, nope + rope]}.
     */
    private Tensor naiveStep(ClScope scope, long q, KvCache cache, int batch, int n) {
        int kvLen = cache.maxCurrentLength();
        int[] lengths = cache.lengths();
        Tensor all = Tensors.zeros(real.dtype, batch, kvLen, width);
        for (int s = 0; s < batch; s++) {
            Tensors.copyInto(cache.keys(s).select(0, 0), all.select(0, s).slice(0, 0, lengths[s]));
        }
        AttendCall call = naiveCall(scope, scope.upload(all, real), batch, kvLen, Alignment.BOTTOM_RIGHT);
        call.kvLens = scope.uploadInts(lengths);
        call.qLen = n;
        call.q(q, n * heads * qk, qk, heads * qk);
        return attendNaiveAndProject(scope, call, batch, n);
    }

    /**
     * MHA over the decompressed latents {@code lat [B, kvLen, c + rope]}: keys {@code [B, kvLen, H, nope + rope]}
     * and values {@code [B, kvLen, H, v]}, read per head through strides. The caller binds the queries.
     */
    private AttendCall naiveCall(ClScope scope, long lat, int batch, int kvLen, Alignment alignment) {
        int rowsKv = batch * kvLen;
        long k = scope.alloc(real, (long) rowsKv * heads * qk);
        ks.linear(lat, 0, width, wKNaive, 0, 0, k, 0, heads * qk, rowsKv, heads * qk, width);
        long v = scope.alloc(real, (long) rowsKv * heads * vDim);
        ks.linear(lat, 0, width, wVNaive, 0, 0, v, 0, heads * vDim, rowsKv, heads * vDim, latent);
        AttendCall call = new AttendCall();
        call.spec = AttentionSpec.builder(heads, heads, qk).vHeadDim(vDim).scale(scale).causal(config.causal())
                .alignment(alignment).softcap(config.softcap()).build();
        call.batch = batch;
        call.kvLen = kvLen;
        call.k(k, kvLen * heads * qk, qk, heads * qk);
        call.v(v, kvLen * heads * vDim, vDim, heads * vDim);
        return call;
    }

    /** The naive path's attention straight into the merged heads {@code [rows, H * v]}, checked on float32, then {@code w_o}. */
    private Tensor attendNaiveAndProject(ClScope scope, AttendCall call, int batch, int len) {
        int rows = batch * len;
        long kvRows = (long) batch * call.kvLen * heads;
        call.splits = splitOverride;
        long merged = scope.alloc(real, (long) rows * heads * vDim);
        call.out(merged, len * heads * vDim, vDim, heads * vDim);
        LayerRange.attend(ks, scope, call, merged, (long) rows * heads, vDim, () ->
                new Float32Range.Magnitudes(scale, qk, len, call.kvLen)
                        .q("x (projected queries)", LayerRange.maxAbs(scope, real, call.q, (long) rows * heads * qk, "x (projected queries)"))
                        .k("x (decompressed keys)", LayerRange.maxAbs(scope, real, call.k, kvRows * qk, "x (decompressed keys)"))
                        .v("x (decompressed values)", LayerRange.maxAbs(scope, real, call.v, kvRows * vDim, "x (decompressed values)")));
        long y = scope.alloc(real, (long) rows * config.hidden());
        ks.linear(scope, merged, wO, 0, y, rows, config.hidden(), heads * vDim);
        return LayerRange.requireFiniteOutput(real, scope.readTensor(y, real, batch, len, config.hidden()),
                "y = attention·w_o (x or w_o beyond the float32-safe range)");
    }

    /** MQA over the latents: query {@code [q_lat | q_pe]}, one KV head of width {@code c + rope}, values {@code c} wide. */
    private AttentionSpec absorbedSpec(Alignment alignment) {
        return AttentionSpec.builder(heads, 1, width).vHeadDim(latent).scale(scale).causal(config.causal())
                .alignment(alignment).softcap(config.softcap()).build();
    }

    /** cos and sin of {@code position * theta^(-2i/rope)} for rows {@code b * len + t} at position {@code start[b] + t}. */
    private long[] ropeTables(ClScope scope, long[] start, int len) {
        int half = rope / 2;
        int rows = start.length * len;
        double[] cos = new double[rows * half];
        double[] sin = new double[rows * half];
        for (int b = 0; b < start.length; b++) {
            for (int t = 0; t < len; t++) {
                long position = start[b] + t;
                for (int i = 0; i < half; i++) {
                    double angle = position * Math.pow(config.ropeTheta(), -2.0 * i / rope);
                    cos[(b * len + t) * half + i] = Math.cos(angle);
                    sin[(b * len + t) * half + i] = Math.sin(angle);
                }
            }
        }
        return new long[]{scope.upload(DoubleTensor.of(cos, rows * half), real), scope.upload(DoubleTensor.of(sin, rows * half), real)};
    }

    /** Queries {@code [rows, H, nope + rope]} with {@code q_pe} rotated in place (the naive path's queries). */
    private long projectedQueries(ClScope scope, long xb, int rows, long[] table) {
        long q = unrotatedQueries(scope, xb, rows);
        ks.rope(q, nope, heads * qk, qk, q, nope, heads * qk, qk, rows, heads, rope, config.ropeInterleaved(), table[0], table[1]);
        return q;
    }

    /** {@code x W_q^T} (or through the low-rank {@code W_q_a}, RMSNorm, {@code W_q_b}): {@code [rows, H * (nope + rope)]}. */
    private long unrotatedQueries(ClScope scope, long xb, int rows) {
        long qFlat = scope.alloc(real, (long) rows * heads * qk);
        if (config.qLoraRank() == 0) {
            ks.linear(scope, xb, wQ, 0, qFlat, rows, heads * qk, config.hidden());
        } else {
            int r = config.qLoraRank();
            long qa = scope.alloc(real, (long) rows * r);
            ks.linear(scope, xb, wQA, 0, qa, rows, r, config.hidden());
            ks.rmsNorm(qa, rows, r, 0, r, qANorm, config.rmsEps());
            ks.linear(scope, qa, wQB, 0, qFlat, rows, heads * qk, r);
        }
        return qFlat;
    }

    /** Absorbed queries {@code [rows, heads, c + rope]}: {@code q_lat_h = q_nope_h W_UK_h}, then the rotated {@code q_pe_h}. */
    private long queries(ClScope scope, long xb, int rows, long[] table) {
        long qFlat = unrotatedQueries(scope, xb, rows);   // [rows, H*(nope+rope)]
        long qAbs = scope.alloc(real, (long) rows * heads * width);
        for (int h = 0; h < heads; h++) {
            ks.linear(qFlat, h * qk, heads * qk, wUkT, h * latent * nope, 0, qAbs, h * width, heads * width, rows, latent, nope);
        }
        ks.rope(qFlat, nope, heads * qk, qk, qAbs, latent, heads * width, width, rows, heads, rope,
                config.ropeInterleaved(), table[0], table[1]);
        return qAbs;
    }

    /** Latents {@code [rows, c + rope]}: {@code RMSNorm(c_kv)} and the rotated shared {@code k_pe}. */
    private long latents(ClScope scope, long xb, int rows, long[] table) {
        long lat = scope.alloc(real, (long) rows * width);
        ks.linear(scope, xb, wKvA, 0, lat, rows, width, config.hidden());
        ks.rmsNorm(lat, rows, width, 0, latent, kvANorm, config.rmsEps());
        ks.rope(lat, latent, width, 0, lat, latent, width, 0, rows, 1, rope, config.ropeInterleaved(), table[0], table[1]);
        return lat;
    }

    /** Attention over the latents, checked on the float32 path ({@code inputs} names them), then {@code W_UV} and {@code w_o}. */
    private Tensor attendAndProject(ClScope scope, AttendCall call, int batch, int len, Supplier<Float32Range.Magnitudes> inputs) {
        int rows = batch * len;
        call.splits = splitOverride;
        long oLat = scope.alloc(real, (long) rows * heads * latent);
        call.out(oLat, len * heads * latent, latent, heads * latent);
        LayerRange.attend(ks, scope, call, oLat, (long) rows * heads, latent, inputs);
        long merged = scope.alloc(real, (long) rows * heads * vDim);  // [rows, H*v]
        for (int h = 0; h < heads; h++) {
            // out_h = o_lat_h W_UV_h^T, W_UV_h = w_kv_b rows [h(nope+v) + nope, (h+1)(nope+v))
            ks.linear(oLat, h * latent, heads * latent, wKvB, (h * (nope + vDim) + nope) * latent, 0, merged, h * vDim,
                    heads * vDim, rows, vDim, latent);
        }
        long y = scope.alloc(real, (long) rows * config.hidden());
        ks.linear(scope, merged, wO, 0, y, rows, config.hidden(), heads * vDim);
        return LayerRange.requireFiniteOutput(real, scope.readTensor(y, real, batch, len, config.hidden()),
                "y = attention·w_o (x or w_o beyond the float32-safe range)");
    }

    private void requireOpen() {
        if (closed) throw new AttentionException("opencl: the layer plan is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            if (weightScope != null) weightScope.close();
            if (ks != null) ks.close();
        } finally {
            ctx.release();
        }
    }
}
