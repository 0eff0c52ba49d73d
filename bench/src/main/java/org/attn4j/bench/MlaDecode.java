package org.attn4j.bench;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.Tensor;
import org.attn4j.kernels.cpu.CpuKernelSupport;
import org.attn4j.kernels.cpu.CpuKernels;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One whole MLA decode step from a latent cache, in both evaluation orders (DeepSeek-V2 §2.1.3), to measure what the
 * absorbed order saves. Per head {@code h}, with {@code W_UK_h [nope, c]} and {@code W_UV_h [v, c]}:
 * <ul>
 *   <li><b>absorbed</b>: {@code q_lat_h = q_nope_h W_UK_h} ({@code c} wide), attend {@code [q_lat_h | q_pe_h]} over the
 *       latent {@code [c_kv | k_pe]} with values {@code c_kv} (one shared head, on the backend), then
 *       {@code out_h = W_UV_h o_lat_h};</li>
 *   <li><b>naive</b>: decompress the whole cache, {@code K_h = [c_kv W_UK_h^T | k_pe]}, {@code V_h = c_kv W_UV_h^T},
 *       then attend {@code [q_nope_h | q_pe_h]} as MHA (on the same backend).</li>
 * </ul>
 * Both return {@code out [B, H, 1, v]} and agree to rounding; the score scale is {@code 1/sqrt(nope + rope)} in both.
 * The small projections of the absorbed order and the decompression of the naive order run on the cpu backend's
 * float32 kernels ({@link CpuKernels#get()}: Vector API when the JVM has it, plain loops otherwise), as the api has no
 * matrix product; the attention itself always runs on the backend under test.
 */
public final class MlaDecode implements AutoCloseable {
    private static final CpuKernelSupport KERNELS = CpuKernels.get();
    /** Tokens decompressed together: 64 latent rows of DeepSeek-V2's 576 floats (144 KiB) stay in L2 for K and V. */
    private static final int DECOMPRESS_TOKENS = 64;

    /**
     * Inputs of one MLA decode step.
     *
     * @param workload an {@link Workload.Kind#MLA_DECODE} workload
     * @param latent   {@code [B, Lk, c + rope]}: normalised {@code c_kv} then the rotated {@code k_pe} per token
     * @param qNope    {@code [B, H, nope]}
     * @param qPe      {@code [B, H, rope]} (already rotated)
     * @param wUk      {@code [H, nope, c]}
     * @param wUv      {@code [H, v, c]}
     */
    public record Data(Workload workload, float[] latent, float[] qNope, float[] qPe, float[] wUk, float[] wUv) {
        /** Random inputs; weights scaled by {@code 1/sqrt(c)} as an initialised projection would be. */
        public static Data random(Workload w, long seed) {
            AttentionException.require(w.mla() != null, "workload", "an MLA workload", w.name());
            Workload.Mla m = w.mla();
            SplittableRandom r = new SplittableRandom(seed);
            int b = w.batch();
            int h = w.qHeads();
            float[] latent = BenchData.uniform(r, (long) b * w.kvLen() * m.latentWidth());
            float[] qNope = BenchData.uniform(r, (long) b * h * m.nopeDim());
            float[] qPe = BenchData.uniform(r, (long) b * h * m.ropeDim());
            float[] wUk = BenchData.uniform(r, (long) h * m.nopeDim() * m.kvLoraRank());
            float[] wUv = BenchData.uniform(r, (long) h * m.vHeadDim() * m.kvLoraRank());
            float s = (float) (1 / Math.sqrt(m.kvLoraRank()));
            for (int i = 0; i < wUk.length; i++) wUk[i] *= s;
            for (int i = 0; i < wUv.length; i++) wUv[i] *= s;
            return new Data(w, latent, qNope, qPe, wUk, wUv);
        }
    }

    private final Data d;
    private final boolean absorbed;
    private final AttentionPlan plan;
    private final ExecutorService pool;
    private final int threads;
    // absorbed: q_abs [B, H, 1, c + rope], o_lat from the plan; naive: q_full [B, H, 1, nope + rope], K/V [B, H, Lk, *]
    private final float[] qIn;
    private final FloatTensor qTensor;
    private final FloatTensor kTensor;
    private final Tensor vTensor;
    private final float[] kFull;
    private final float[] vFull;
    private final float[] out;
    private final KvCache latentCache;      // absorbed, when the backend's decode reads latent caches
    private long decompressNanos;           // naive: the decompression part of the last step

    private MlaDecode(AttentionBackend backend, Data d, boolean absorbed, int threads) {
        this.d = d;
        this.absorbed = absorbed;
        this.threads = threads;
        Workload w = d.workload;
        Workload.Mla m = w.mla();
        int b = w.batch();
        int h = w.qHeads();
        int lk = w.kvLen();
        AttentionSpec spec;
        if (absorbed) {
            spec = w.spec();
            qIn = new float[b * h * m.latentWidth()];
            qTensor = FloatTensor.of(qIn, b, h, 1, m.latentWidth());
            kTensor = FloatTensor.of(d.latent, b, 1, lk, m.latentWidth());
            vTensor = kTensor.slice(3, 0, m.kvLoraRank());
            kFull = null;
            vFull = null;
            pool = null;
        } else {
            spec = AttentionSpec.builder(h, h, m.qkHeadDim()).vHeadDim(m.vHeadDim()).scale(w.scale()).build();
            qIn = new float[b * h * m.qkHeadDim()];
            qTensor = FloatTensor.of(qIn, b, h, 1, m.qkHeadDim());
            kFull = new float[Math.multiplyExact(b * h * lk, m.qkHeadDim())];
            vFull = new float[Math.multiplyExact(b * h * lk, m.vHeadDim())];
            kTensor = FloatTensor.of(kFull, b, h, lk, m.qkHeadDim());
            vTensor = FloatTensor.of(vFull, b, h, lk, m.vHeadDim());
            pool = Executors.newFixedThreadPool(threads, r -> Thread.ofPlatform().daemon().name("attn4j-mla-naive").unstarted(r));
        }
        out = new float[b * h * m.vHeadDim()];
        plan = backend.plan(AttentionProblem.of(spec, b, 1, lk), AttnRun.options(threads));
        latentCache = absorbed ? latentCacheIfReadable(backend, w) : null;
    }

    /** The latent as a keys-only cache when {@code plan.decode} accepts it (cpu does), else {@code null} (use run). */
    private KvCache latentCacheIfReadable(AttentionBackend backend, Workload w) {
        KvCache cache = AttnRun.latentCache(backend, new BenchData(w, qIn, d.latent, null));
        try {
            plan.decode(qTensor, cache);
            return cache;
        } catch (AttentionException e) {
            return null;
        }
    }

    /** The absorbed order: attention over the latent cache. */
    public static MlaDecode absorbed(AttentionBackend backend, Data d, int threads) {
        return new MlaDecode(backend, d, true, threads);
    }

    /** The naive order: decompress the whole cache to per-head K/V, then attend. */
    public static MlaDecode naive(AttentionBackend backend, Data d, int threads) {
        return new MlaDecode(backend, d, false, threads);
    }

    /** One decode step; returns {@code out [B, H, v]} (this object's buffer, overwritten by the next step). */
    public float[] step() {
        Workload w = d.workload;
        Workload.Mla m = w.mla();
        int bh = w.batch() * w.qHeads();
        int h = w.qHeads();
        int c = m.kvLoraRank();
        if (absorbed) {
            int width = m.latentWidth();
            for (int i = 0; i < bh; i++) {
                // q_lat = q_nope W_UK_h: a sum of W_UK rows weighted by q_nope
                int head = i % h;
                java.util.Arrays.fill(qIn, i * width, i * width + c, 0f);
                for (int r = 0; r < m.nopeDim(); r++) {
                    axpy(d.qNope[i * m.nopeDim() + r], d.wUk, (head * m.nopeDim() + r) * c, qIn, i * width, c);
                }
                System.arraycopy(d.qPe, i * m.ropeDim(), qIn, i * width + c, m.ropeDim());
            }
            Tensor o = latentCache != null ? plan.decode(qTensor, latentCache).out()
                    : plan.run(AttentionInputs.of(qTensor, kTensor, vTensor)).out();
            float[] oLat = o.toFloatArray();
            int v = m.vHeadDim();
            for (int i = 0; i < bh; i++) {
                // out_h = W_UV_h o_lat: one dot product per W_UV row
                KERNELS.dotScores(1, v, c, 1f, oLat, i * c, c, d.wUv, (i % h) * v * c, c, out, i * v, v);
            }
        } else {
            long t0 = System.nanoTime();
            decompress();
            decompressNanos = System.nanoTime() - t0;
            int qk = m.qkHeadDim();
            for (int i = 0; i < bh; i++) {
                System.arraycopy(d.qNope, i * m.nopeDim(), qIn, i * qk, m.nopeDim());
                System.arraycopy(d.qPe, i * m.ropeDim(), qIn, i * qk + m.nopeDim(), m.ropeDim());
            }
            float[] o = plan.run(AttentionInputs.of(qTensor, kTensor, vTensor)).out().toFloatArray();
            System.arraycopy(o, 0, out, 0, out.length);
        }
        return out;
    }

    /** Naive order: seconds the last step spent decompressing the cache (the rest is the attention); 0 for absorbed. */
    public double lastDecompressSeconds() {
        return decompressNanos / 1e9;
    }

    /** K_h = [c_kv W_UK_h^T | k_pe], V_h = c_kv W_UV_h^T for every (sequence, head), spread over the pool. */
    private void decompress() {
        Workload w = d.workload;
        int tasks = w.batch() * w.qHeads();
        List<Future<?>> futures = new ArrayList<>();
        int per = (tasks + threads - 1) / threads;
        for (int t = 0; t < threads; t++) {
            int from = t * per;
            int to = Math.min(tasks, from + per);
            if (from >= to) break;
            futures.add(pool.submit(() -> {
                for (int i = from; i < to; i++) decompressHead(i / w.qHeads(), i % w.qHeads());
            }));
        }
        try {
            for (Future<?> f : futures) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("MLA decompression failed", e.getCause());
        }
    }

    private void decompressHead(int b, int head) {
        Workload w = d.workload;
        Workload.Mla m = w.mla();
        int lk = w.kvLen();
        int c = m.kvLoraRank();
        int width = m.latentWidth();
        int qk = m.qkHeadDim();
        int kBase = (b * w.qHeads() + head) * lk * qk;
        int vBase = (b * w.qHeads() + head) * lk * m.vHeadDim();
        int lBase = b * lk * width;
        // K_nope = latent_c W_UK_h^T and V = latent_c W_UV_h^T, a block of tokens at a time so that the block is
        // still in cache for the second product (the kernels take four tokens per weight-row load).
        for (int t0 = 0; t0 < lk; t0 += DECOMPRESS_TOKENS) {
            int n = Math.min(DECOMPRESS_TOKENS, lk - t0);
            int l0 = lBase + t0 * width;
            KERNELS.dotScores(n, m.nopeDim(), c, 1f, d.latent, l0, width, d.wUk, head * m.nopeDim() * c, c,
                    kFull, kBase + t0 * qk, qk);
            KERNELS.dotScores(n, m.vHeadDim(), c, 1f, d.latent, l0, width, d.wUv, head * m.vHeadDim() * c, c,
                    vFull, vBase + t0 * m.vHeadDim(), m.vHeadDim());
        }
        for (int t = 0; t < lk; t++) {
            System.arraycopy(d.latent, lBase + t * width + c, kFull, kBase + t * qk + m.nopeDim(), m.ropeDim());
        }
    }

    /** {@code y[yo..yo+n) += a · x[xo..xo+n)}. */
    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        KERNELS.axpy(a, x, xo, y, yo, n);
    }

    /** {@code Σ a[ao+i]·b[bo+i]} for {@code i < n}. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        return KERNELS.dot(a, ao, b, bo, n);
    }

    @Override
    public void close() {
        plan.close();
        if (pool != null) pool.shutdownNow();
    }
}
