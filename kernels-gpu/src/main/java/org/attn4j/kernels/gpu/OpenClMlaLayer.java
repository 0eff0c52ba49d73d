package org.attn4j.kernels.gpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.Float32Range;
import org.attn4j.api.KvCache;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.Tensor;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A multi-head latent attention layer (FORMAT.md "variant mla") on the device, always on the absorbed path:
 * {@code W_UK} is folded into the query ({@code q_lat_h = q_nope_h W_UK_h}), attention runs with the ordinary
 * {@code attend} kernel as MQA over the latent cache (one KV head, keys {@code [c_kv | k_pe]}, values the same rows'
 * first {@code c} columns, read in place), then {@code W_UV_h} and {@code w_o} project out.
 * {@link org.attn4j.api.PlanOptions#mlaPath()} is ignored: both paths compute the same function.
 *
 * <p>RMSNorm and RoPE run on the device; RoPE's cos/sin tables are computed on the host in double. Precision follows
 * the weights as for {@link OpenClStandardLayer}. Calls on one plan are serialised.
 */
final class OpenClMlaLayer implements LayerPlan {
    private final MlaLayerConfig config;
    private final ClContext ctx;
    private final RealType real;
    private final int splitOverride;
    private final int heads, nope, rope, vDim, latent, qk, width;
    private final double scale;
    private KernelSet ks;
    private ClScope weightScope;
    private long wQ, wQA, qANorm, wQB, wKvA, kvANorm, wUkT, wKvB, wO;
    private boolean closed;

    /** {@code w} has been validated against {@code config} (by {@link OpenClBackend#planLayer}). */
    OpenClMlaLayer(ClContext ctx, MlaLayerConfig config, MlaLayerWeights w, int splitOverride) {
        this.config = config;
        this.splitOverride = splitOverride;
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
            ks.requireTiles(ks.tiles(1, width, latent), width, latent);
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
            wUkT = weightScope.upload(absorbedKeyWeights(w.wKvB()), real);
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
        return new ContiguousKvCache(config.cacheSpec(real.dtype, batch, maxLength));
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
                long qAbs = queries(scope, xb, batch * n, table);
                long lat = latents(scope, xb, batch * n, table);
                // The cache lives on the host: bring the chunk's latents back and append (validated before writing).
                int[] before = cache.lengths();
                cache.append(scope.readTensor(lat, real, batch, 1, n, width), null);
                try {
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

    /** Absorbed queries {@code [rows, heads, c + rope]}: {@code q_lat_h = q_nope_h W_UK_h}, then the rotated {@code q_pe_h}. */
    private long queries(ClScope scope, long xb, int rows, long[] table) {
        long qFlat = scope.alloc(real, (long) rows * heads * qk);   // [rows, H*(nope+rope)]
        if (config.qLoraRank() == 0) {
            ks.linear(scope, xb, wQ, 0, qFlat, rows, heads * qk, config.hidden());
        } else {
            int r = config.qLoraRank();
            long qa = scope.alloc(real, (long) rows * r);
            ks.linear(scope, xb, wQA, 0, qa, rows, r, config.hidden());
            ks.rmsNorm(qa, rows, r, 0, r, qANorm, config.rmsEps());
            ks.linear(scope, qa, wQB, 0, qFlat, rows, heads * qk, r);
        }
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
