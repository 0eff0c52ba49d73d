package org.attn4j.bench;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.KvCacheSpec;
import org.attn4j.api.PagedKvCache;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Tensor;

/**
 * One workload prepared on an attn4j backend, through the api only: planned once, then {@link #run} many times.
 * <ul>
 *   <li>prefill: {@code plan.run(q, k, v)};</li>
 *   <li>decode: the K/V go into the backend's KV cache once ({@link AttentionBackend#newKvCache}), each run is
 *       {@code plan.decode(q, cache)}, which reads the cache and never appends (the cache does not grow);</li>
 *   <li>MLA absorbed decode: MQA over a keys-only latent cache ({@code kvHeads 1}, {@code headDim c + rope},
 *       {@code vHeadDim 0}, as {@code docs/kv-layout.md} describes) with {@code plan.decode(q_absorbed, cache)}; the
 *       values are the first {@code c} latent columns (the api's default decode reads such a cache by gathering its
 *       keys). A backend whose decode refuses latent caches runs {@code plan.run(q, latent, latent[..., :c])} instead,
 *       the values being a view of the same storage.</li>
 * </ul>
 * The output tensor of the last run is kept, so a benchmark can consume it.
 */
public final class AttnRun implements AutoCloseable {
    private final AttentionPlan plan;
    private final Tensor q;
    private final AttentionInputs inputs;   // prefill, MLA
    private final KvCache cache;            // decode
    private Tensor lastOutput;

    private AttnRun(AttentionPlan plan, Tensor q, AttentionInputs inputs, KvCache cache) {
        this.plan = plan;
        this.q = q;
        this.inputs = inputs;
        this.cache = cache;
    }

    /** The plan options every benchmark uses: {@code threads} workers, no LSE (nobody reads it). */
    public static PlanOptions options(int threads) {
        return new PlanOptions(threads, false, PlanOptions.MlaPath.ABSORBED);
    }

    /** Plans {@code data}'s workload on {@code backend} and binds its inputs (fills the KV cache for decode). */
    public static AttnRun prepare(AttentionBackend backend, BenchData data, int threads) {
        Workload w = data.workload();
        FloatTensor q = FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim());
        AttentionProblem problem = AttentionProblem.of(w.spec(), w.batch(), w.qLen(), w.kvLen());
        AttentionPlan plan = backend.plan(problem, options(threads));
        try {
            return switch (w.kind()) {
                case PREFILL -> new AttnRun(plan, q, AttentionInputs.of(q,
                        FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
                        FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim())), null);
                case DECODE -> {
                    KvCache cache = backend.newKvCache(w.batch(), w.kvHeads(), w.kvLen(), w.headDim(), w.vHeadDim());
                    cache.append(FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
                            FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()));
                    yield new AttnRun(plan, q, null, cache);
                }
                case MLA_DECODE -> {
                    KvCache latentCache = latentCache(backend, data);
                    try {
                        plan.decode(q, latentCache); // probe: can this backend's decode read a latent cache?
                        yield new AttnRun(plan, q, null, latentCache);
                    } catch (AttentionException e) {
                        FloatTensor latent = FloatTensor.of(data.k(), w.batch(), 1, w.kvLen(), w.headDim());
                        yield new AttnRun(plan, q, AttentionInputs.of(q, latent, latent.slice(3, 0, w.vHeadDim())), null);
                    }
                }
            };
        } catch (RuntimeException e) {
            plan.close();
            throw e;
        }
    }

    /**
     * A decode workload over a float32 {@link PagedKvCache} with {@code pageSize}-token pages (the block-table layout
     * of vLLM / FlashInfer), filled with {@code data}'s K/V: {@code plan.decode(q, cache)} per run, as {@link #prepare}
     * does over the backend's own cache.
     */
    public static AttnRun preparePaged(AttentionBackend backend, BenchData data, int threads, int pageSize) {
        Workload w = data.workload();
        AttentionException.require(w.kind() == Workload.Kind.DECODE, "workload", "a decode workload", w.name());
        AttentionException.require(pageSize >= 1, "pageSize", ">= 1", pageSize);
        FloatTensor q = FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim());
        int pages = w.batch() * ((w.kvLen() + pageSize - 1) / pageSize);
        KvCache cache = new PagedKvCache(DType.FLOAT32, w.batch(), w.kvHeads(), w.headDim(), w.vHeadDim(), pageSize, pages,
                w.kvLen());
        cache.append(FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
                FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()));
        AttentionPlan plan = backend.plan(AttentionProblem.of(w.spec(), w.batch(), w.qLen(), w.kvLen()), options(threads));
        return new AttnRun(plan, q, null, cache);
    }

    /**
     * A decode workload (or MLA's absorbed decode) over a cache stored as {@code storage} (float16, bfloat16, int8),
     * filled with {@code data}'s K/V rounded or quantized by the api's rule: a {@link ContiguousKvCache}, or a
     * {@link PagedKvCache} of {@code pageSize}-token pages when {@code pageSize > 0}. {@code plan.decode(q, cache)}
     * per run. Throws when the backend declines the storage type ({@link AttentionBackend#supportStorage}).
     */
    public static AttnRun prepareStored(AttentionBackend backend, BenchData data, int threads, DType storage, int pageSize) {
        Workload w = data.workload();
        AttentionException.require(w.kind() != Workload.Kind.PREFILL, "workload", "a decode workload", w.name());
        backend.supportStorage(storage).orThrow(backend.name(), "a " + storage + " KV cache");
        boolean latent = w.kind() == Workload.Kind.MLA_DECODE;
        int kvHeads = latent ? 1 : w.kvHeads();
        int vHeadDim = latent ? 0 : w.vHeadDim();
        FloatTensor q = FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim());
        KvCache cache = pageSize > 0
                ? new PagedKvCache(storage, w.batch(), kvHeads, w.headDim(), vHeadDim, pageSize,
                        w.batch() * ((w.kvLen() + pageSize - 1) / pageSize), w.kvLen())
                : backend.newKvCache(new KvCacheSpec(storage, w.batch(), kvHeads, w.kvLen(), w.headDim(), vHeadDim));
        cache.append(FloatTensor.of(data.k(), w.batch(), kvHeads, w.kvLen(), w.headDim()),
                latent ? null : FloatTensor.of(data.v(), w.batch(), kvHeads, w.kvLen(), w.vHeadDim()));
        AttentionPlan plan = backend.plan(AttentionProblem.of(w.spec(), w.batch(), w.qLen(), w.kvLen()), options(threads));
        return new AttnRun(plan, q, null, cache);
    }

    /**
     * Bytes one decode step reads from a cache stored as {@code storage}: every K and V row (int8 rows with their 4-byte
     * scale), or every latent row for MLA.
     */
    public static double bytesRead(Workload w, DType storage) {
        if (w.kind() == Workload.Kind.MLA_DECODE) return (double) w.batch() * w.kvLen() * storage.bytesPerRow(w.headDim());
        return (double) w.batch() * w.kvHeads() * w.kvLen() * (storage.bytesPerRow(w.headDim()) + storage.bytesPerRow(w.vHeadDim()));
    }

    /** A float32 keys-only cache {@code [B, 1, Lk, c + rope]} holding {@code data.k()}, the latent of an MLA workload. */
    public static KvCache latentCache(AttentionBackend backend, BenchData data) {
        Workload w = data.workload();
        KvCache cache = new ContiguousKvCache(DType.FLOAT32, w.batch(), 1, w.kvLen(), w.headDim(), 0);
        cache.append(FloatTensor.of(data.k(), w.batch(), 1, w.kvLen(), w.headDim()), null);
        return cache;
    }

    /** Whether runs go through {@code plan.decode} over a cache (decode, and MLA on backends that read latent caches). */
    public boolean usesCache() {
        return cache != null;
    }

    /** One timed call; returns the output {@code [B, Hq, Lq, Dv]}. */
    public Tensor run() {
        AttentionOutput o = cache != null ? plan.decode(q, cache) : plan.run(inputs);
        lastOutput = o.out();
        return lastOutput;
    }

    /** The output of the last {@link #run}, or {@code null}. */
    public Tensor lastOutput() {
        return lastOutput;
    }

    @Override
    public void close() {
        plan.close();
    }
}
