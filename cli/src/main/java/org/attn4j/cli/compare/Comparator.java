package org.attn4j.cli.compare;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.Backends;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.HalfTensor;
import org.attn4j.api.Int8Tensor;
import org.attn4j.api.Tensor;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.Support;
import org.attn4j.bench.Timing;
import org.attn4j.bench.Workload;
import org.attn4j.dsl.ModelConfig;
import org.attn4j.reference.ReferenceAttention;
import org.attn4j.reference.ReferenceBackend;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Runs the comparison behind {@code attn compare}: the cost model's figures for each config, then, on each optimized
 * backend, the attention kernel's prefill and decode speed in steady state ({@link Timing#steady}) and its largest
 * error against the float64 reference.
 *
 * <p>Only the attention kernel is timed (no projections): for MHA/MQA/GQA the layer's own spec; for MLA prefill the
 * naive path (per-head {@code K = [k_nope | k_pe]} of width {@code n + r}, {@code V} of width {@code v}) and for MLA
 * decode the absorbed path, which attends every head over the shared latent cache {@code [c_kv | k_pe]}
 * ({@code c + r} wide) and reads {@code c_kv} as the values (DeepSeek-V2 §2.1.3): an MQA-shaped kernel with {@code K}
 * width {@code c + r}, {@code V = c_kv} a view of the same memory, and scale {@code 1/sqrt(n + r)}.
 */
public final class Comparator {
    private Comparator() {
    }

    public static ComparisonResult run(List<ModelConfig> models, CompareSettings settings, CompareProgress progress, String title) {
        AttentionException.require(!models.isEmpty(), "models", "at least one config", "none");
        long start = System.nanoTime();
        List<BackendStatus> statuses = backendStatuses(settings);
        List<AttentionBackend> measured = new ArrayList<>();
        for (BackendStatus s : statuses) if (s.measured()) measured.add(Backends.byName(s.name()));
        // Highest priority first, errors last: an OpenCL device that is this CPU (PoCL) keeps worker threads busy for
        // a while after its calls, which made the cpu backend's decode times that followed 2-30x noisier.
        measured = Backends.byPriority(measured);

        Map<ModelConfig, List<KernelShape>> shapes = new LinkedHashMap<>();
        Map<ModelConfig, List<ErrorCheck>> errors = new LinkedHashMap<>();
        Map<ModelConfig, List<Speed>> prefill = new LinkedHashMap<>();
        Map<ModelConfig, List<Speed>> decode = new LinkedHashMap<>();
        for (ModelConfig m : models) {
            shapes.put(m, shapes(m, settings));
            prefill.put(m, new ArrayList<>());
            decode.put(m, new ArrayList<>());
        }

        for (AttentionBackend b : measured) {
            // Decode first: it is what the variants differ in, and a slow backend should spend its budget there.
            List<Map.Entry<ModelConfig, KernelShape>> kernels = new ArrayList<>();
            for (Phase phase : List.of(Phase.DECODE, Phase.PREFILL)) {
                for (ModelConfig m : models) {
                    for (KernelShape s : shapes.get(m)) if (s.phase() == phase) kernels.add(Map.entry(m, s));
                }
            }
            progress.begin(b.name(), kernels.size());
            long backendStart = System.nanoTime();
            try {
                for (int i = 0; i < kernels.size(); i++) {
                    ModelConfig m = kernels.get(i).getKey();
                    KernelShape shape = kernels.get(i).getValue();
                    double left = settings.backendSeconds() - (System.nanoTime() - backendStart) / 1e9;
                    Speed speed = left <= 0
                            ? new Speed.NotTimed(b.name(), String.format(Locale.ROOT, "%s's time budget of %.0f s was spent on the "
                            + "kernels before it (raise it with --budget)", b.name(), settings.backendSeconds()))
                            : time(b, shape, settings.timing().within(left / (kernels.size() - i)), settings.threads(), m.getKvDtype());
                    (shape.phase() == Phase.PREFILL ? prefill : decode).get(m).add(speed);
                    progress.step(b.name() + ": " + m.getName() + " " + shape.phase().name().toLowerCase(Locale.ROOT) + " "
                            + (speed instanceof Speed.Timed t ? String.format(Locale.ROOT, "%.3g ms (%d calls)", t.millis(), t.calls()) : "not timed"));
                }
            } finally {
                progress.end();
            }
        }
        for (ModelConfig m : models) {
            List<ErrorCheck> e = new ArrayList<>();
            for (AttentionBackend b : measured) e.add(error(m, b, settings));
            errors.put(m, e);
        }
        List<VariantRow> rows = new ArrayList<>();
        for (ModelConfig m : models) {
            rows.add(new VariantRow(m, m.getCost(), m.kvCacheBytes(settings.context()), shapes.get(m), prefill.get(m), decode.get(m),
                    errors.get(m)));
        }
        return new ComparisonResult(title, settings, statuses, rows, environment(), (System.nanoTime() - start) / 1_000_000);
    }

    /** Which backends are measured, and why the others are not; an unknown name in the selection is bad input. */
    public static List<BackendStatus> backendStatuses(CompareSettings settings) {
        List<AttentionBackend> all = Backends.all();
        List<String> names = all.stream().map(AttentionBackend::name).toList();
        List<String> wanted = settings.backends();
        if (wanted != null) {
            for (String w : wanted) {
                if (!names.contains(w)) throw AttentionException.invalid("backend", "one of " + names, "'" + w + "'");
            }
        }
        List<BackendStatus> out = new ArrayList<>();
        for (AttentionBackend b : all) {
            String reason;
            if (b.name().equals(ReferenceBackend.NAME)) reason = "the float64 reference: the errors are measured against it";
            else if (wanted != null && !wanted.contains(b.name())) reason = "not selected (--backend)";
            else reason = b.unavailableReason().map(r -> "unavailable: " + r).orElse(null);
            out.add(new BackendStatus(b.name(), reason == null, reason));
        }
        return out;
    }

    /** The kernels timed for {@code model}: prefill, then decode. */
    public static List<KernelShape> shapes(ModelConfig model, CompareSettings settings) {
        int l = settings.prefillLen();
        int kv = settings.decodeKv();
        String name = model.getName();
        if (model.getLayer() instanceof StandardLayerConfig layer) {
            AttentionSpec spec = layer.attentionSpec();
            String heads = spec.qHeads() + "/" + spec.kvHeads() + " heads, d=" + spec.headDim() + visibility(spec);
            return List.of(
                    new KernelShape(Phase.PREFILL, spec, new Workload(name + " prefill", Workload.Kind.PREFILL, 1, spec.qHeads(),
                            spec.kvHeads(), spec.headDim(), spec.vHeadDim(), l, l, spec.causal(), null),
                            "prefill B=1 L=" + l + ", " + heads, false),
                    new KernelShape(Phase.DECODE, spec, new Workload(name + " decode", Workload.Kind.DECODE, 1, spec.qHeads(),
                            spec.kvHeads(), spec.headDim(), spec.vHeadDim(), 1, kv, false, null),
                            "decode B=1 1 query against a KV cache of " + kv + " tokens, " + heads, false));
        }
        MlaLayerConfig layer = (MlaLayerConfig) model.getLayer();
        int qk = layer.qkHeadDim();
        double scale = layer.scale().orElse(1.0 / Math.sqrt(qk));
        AttentionSpec naive = AttentionSpec.builder(layer.qHeads(), layer.qHeads(), qk).vHeadDim(layer.vHeadDim()).scale(scale)
                .causal(layer.causal()).alignment(layer.alignment()).softcap(layer.softcap()).build();
        AttentionSpec absorbed = AttentionSpec.builder(layer.qHeads(), 1, layer.latentWidth()).vHeadDim(layer.kvLoraRank()).scale(scale)
                .causal(layer.causal()).alignment(layer.alignment()).softcap(layer.softcap()).build();
        Workload.Mla widths = new Workload.Mla(layer.kvLoraRank(), layer.qkRopeHeadDim(), layer.qkNopeHeadDim(), layer.vHeadDim());
        return List.of(
                new KernelShape(Phase.PREFILL, naive, new Workload(name + " prefill", Workload.Kind.PREFILL, 1, layer.qHeads(),
                        layer.qHeads(), qk, layer.vHeadDim(), l, l, layer.causal(), null),
                        "prefill B=1 L=" + l + ", naive path: " + layer.qHeads() + " heads, d=" + qk + " (nope " + layer.qkNopeHeadDim()
                                + " + rope " + layer.qkRopeHeadDim() + "), dv=" + layer.vHeadDim() + visibility(naive), false),
                new KernelShape(Phase.DECODE, absorbed, Workload.mlaDecode(name + " decode", 1, layer.qHeads(), widths, kv),
                        "decode B=1 1 query against a latent cache of " + kv + " tokens, absorbed path: " + layer.qHeads()
                                + " heads over the shared latent, d=" + layer.latentWidth() + " (c_kv " + layer.kvLoraRank() + " + k_pe "
                                + layer.qkRopeHeadDim() + "), V = c_kv", true));
    }

    private static String visibility(AttentionSpec spec) {
        return (spec.causal() ? ", causal" : "") + (spec.hasWindow() ? ", window(" + spec.window().left() + "," + spec.window().right() + ")" : "");
    }

    /**
     * Largest error of {@code model}'s prefill and decode kernels on {@code backend} against the float64 reference
     * ({@link ReferenceAttention}), on seeded random float32 inputs: prefill {@code n x n}, decode 1 query over
     * {@code 2n + 1} keys (dense inputs, independent V).
     */
    public static ErrorCheck error(ModelConfig model, AttentionBackend backend, CompareSettings settings) {
        DType storage = reduced(model.getKvDtype());
        if (storage != null) {
            Support s = backend.supportStorage(storage);
            if (!s.isSupported()) return new ErrorCheck.NotMeasured(backend.name(), String.join("; ", s.reasons()));
        }
        int n = settings.errorLen();
        List<KernelShape> small = shapes(model, settings.withShapes(n, 2 * n + 1));
        String what = model.getName() + ": prefill " + n + "x" + n + " and decode over " + (2 * n + 1) + " keys";
        double maxErr = 0;
        double worst = Double.NEGATIVE_INFINITY;
        long elements = 0;
        for (KernelShape s : small) {
            AttentionSpec spec = s.spec();
            SplittableRandom rnd = new SplittableRandom(7);
            AttentionInputs floats = AttentionInputs.of(uniform(rnd, 1, spec.qHeads(), s.qLen(), spec.headDim()),
                    uniform(rnd, 1, spec.kvHeads(), s.kvLen(), spec.headDim()), uniform(rnd, 1, spec.kvHeads(), s.kvLen(), spec.vHeadDim()));
            // A reduced cache's row runs on K/V stored in that type: its error against the reference of the float values
            // shows the rounding; the tolerance is judged against the reference of the stored values (the kernel's own error).
            AttentionInputs inputs = storage == null ? floats : stored(floats, storage);
            AttentionProblem problem = inputs.validate(spec);
            Support support = backend.support(problem);
            if (!support.isSupported()) return new ErrorCheck.NotMeasured(backend.name(), String.join("; ", support.reasons()));
            double[] actual;
            try (AttentionPlan plan = backend.plan(problem, PlanOptions.defaults().withThreads(settings.threads()))) {
                actual = plan.run(inputs).out().toDoubleArray();
            } catch (RuntimeException e) {
                return new ErrorCheck.NotMeasured(backend.name(), "failed: " + message(e));
            }
            double[] expected = ReferenceAttention.attend(spec, inputs).out().toDoubleArray();
            double[] unrounded = storage == null ? expected : ReferenceAttention.attend(spec, floats).out().toDoubleArray();
            for (int i = 0; i < actual.length; i++) {
                double err = Math.abs(actual[i] - expected[i]);
                if (Double.isNaN(err)) return new ErrorCheck.Measured(backend.name(), what, Double.NaN, Double.POSITIVE_INFINITY, elements);
                maxErr = Math.max(maxErr, Math.abs(actual[i] - unrounded[i]));
                worst = Math.max(worst, err - (ErrorCheck.ATOL + ErrorCheck.RTOL * Math.abs(expected[i])));
            }
            elements += actual.length;
        }
        return new ErrorCheck.Measured(backend.name(), what, maxErr, elements == 0 ? 0 : worst, elements);
    }

    /**
     * Times one kernel in steady state. Prefill times {@code plan.run} on dense Q/K/V. Decode times
     * {@code plan.decode(q, cache)} against a float32 KV cache that holds {@code kvLen} tokens (filled once, before
     * timing); absorbed MLA uses a keys-only latent cache {@code [c_kv | k_pe]} whose first {@code c} columns are the
     * values. A backend whose {@code decode} cannot read a latent cache is timed on {@code plan.run} over dense inputs
     * instead (with {@code V} a view of {@code K}), and the result says so.
     */
    public static Speed time(AttentionBackend backend, KernelShape shape, Timing.Steady timing, int threads) {
        return time(backend, shape, timing, threads, null);
    }

    /**
     * {@link #time(AttentionBackend, KernelShape, Timing.Steady, int)} with K/V and the decode cache stored as
     * {@code kvDtype} (null or float32: float32). A backend whose {@code supportStorage} declines the type is not timed.
     */
    public static Speed time(AttentionBackend backend, KernelShape shape, Timing.Steady timing, int threads, DType kvDtype) {
        DType storage = reduced(kvDtype);
        if (storage != null) {
            Support s = backend.supportStorage(storage);
            if (!s.isSupported()) return new Speed.NotTimed(backend.name(), String.join("; ", s.reasons()));
        }
        AttentionSpec spec = shape.spec();
        SplittableRandom rnd = new SplittableRandom(11);
        FloatTensor q = uniform(rnd, 1, spec.qHeads(), shape.qLen(), spec.headDim());
        Tensor k = store(uniform(rnd, 1, spec.kvHeads(), shape.kvLen(), spec.headDim()), storage);
        // Absorbed MLA reads c_kv as the values: V is a view of K's first kvLoraRank columns, not a second copy.
        Tensor v = shape.vIsKeyPrefix() ? k.slice(3, 0, spec.vHeadDim()) : store(uniform(rnd, 1, spec.kvHeads(), shape.kvLen(), spec.vHeadDim()), storage);
        AttentionInputs inputs = AttentionInputs.of(q, k, v);
        DType cacheType = storage == null ? DType.FLOAT32 : storage;
        AttentionProblem problem = inputs.validate(spec);
        Support support = backend.support(problem);
        if (!support.isSupported()) return new Speed.NotTimed(backend.name(), String.join("; ", support.reasons()));
        String note = null;
        Timing.SteadyResult result;
        try (AttentionPlan plan = backend.plan(problem, PlanOptions.defaults().withThreads(threads).withLse(false))) {
            Timing.Action call = () -> plan.run(inputs);
            if (shape.phase() == Phase.DECODE) {
                ContiguousKvCache cache = shape.vIsKeyPrefix()
                        ? new ContiguousKvCache(cacheType, 1, 1, shape.kvLen(), spec.headDim(), 0)
                        : new ContiguousKvCache(cacheType, 1, spec.kvHeads(), shape.kvLen(), spec.headDim(), spec.vHeadDim());
                cache.append(k, shape.vIsKeyPrefix() ? null : v);
                call = () -> plan.decode(q, cache);
                if (shape.vIsKeyPrefix()) {
                    try {
                        call.run();
                    } catch (AttentionException e) {
                        note = "timed on run() over dense K/V: its decode() does not read a latent cache (" + e.getMessage() + ")";
                        call = () -> plan.run(inputs);
                    }
                }
            }
            result = Timing.steady(timing, call);
        } catch (Exception e) {
            return new Speed.NotTimed(backend.name(), "failed: " + message(e));
        }
        Workload w = shape.workload();
        Timing t = result.timing();
        double seconds = t.median();
        double tokens = shape.phase() == Phase.PREFILL ? shape.qLen() / seconds : 1 / seconds;
        Double gbs = shape.phase() == Phase.DECODE ? decodeBytesRead(shape, kvDtype) / seconds / 1e9 : null;
        if (!result.settled()) {
            String unsettled = String.format(Locale.ROOT, "warm-up times had not settled after %d call(s) in %.1f s (the budget), "
                    + "so the figure may still include first-call costs", result.warmupCalls(), result.warmupSeconds());
            note = note == null ? unsettled : note + "; " + unsettled;
        }
        return new Speed.Timed(backend.name(), t.median() * 1e3, t.min() * 1e3, t.max() * 1e3, t.reps(), result.warmupCalls(),
                result.settled(), tokens, w.flops() / seconds / 1e9, gbs, note);
    }

    /** {@code dtype} when it is a reduced type, else null (float32 and unset are the float32 path). */
    private static DType reduced(DType dtype) {
        return dtype != null && dtype.isReduced() ? dtype : null;
    }

    /** {@code t} stored as {@code dtype} by the one rule of {@code Quantization} (null: {@code t} itself). */
    private static Tensor store(FloatTensor t, DType dtype) {
        if (dtype == null) return t;
        return dtype == DType.INT8 ? Int8Tensor.quantize(t) : HalfTensor.round(dtype, t);
    }

    private static AttentionInputs stored(AttentionInputs x, DType dtype) {
        return AttentionInputs.of(x.q(), store((FloatTensor) x.k(), dtype), store((FloatTensor) x.v(), dtype));
    }

    /**
     * Cache bytes one decode step of {@code shape} reads with the cache stored as {@code kvDtype} (null: float32): every
     * cached row (per token and KV head; MLA: the latent) at {@link DType#bytesPerRow}, so int8 counts its scales.
     */
    public static double decodeBytesRead(KernelShape shape, DType kvDtype) {
        if (kvDtype == null) return shape.workload().bytesRead();
        AttentionSpec spec = shape.spec();
        double rows = (double) spec.kvHeads() * shape.kvLen();
        if (shape.vIsKeyPrefix()) return rows * kvDtype.bytesPerRow(spec.headDim());   // the latent [c_kv | k_pe]; V is its prefix
        return rows * (kvDtype.bytesPerRow(spec.headDim()) + kvDtype.bytesPerRow(spec.vHeadDim()));
    }

    /**
     * What rounding to {@code model}'s KV dtype alone costs on the error column's problems: the largest difference
     * between the float64 reference on the stored K/V and on the float values; null for a float32/float64 cache.
     */
    public static Double storageRounding(ModelConfig model, CompareSettings settings) {
        DType storage = reduced(model.getKvDtype());
        if (storage == null) return null;
        int n = settings.errorLen();
        double max = 0;
        for (KernelShape s : shapes(model, settings.withShapes(n, 2 * n + 1))) {
            AttentionSpec spec = s.spec();
            SplittableRandom rnd = new SplittableRandom(7);   // the error column's inputs
            AttentionInputs floats = AttentionInputs.of(uniform(rnd, 1, spec.qHeads(), s.qLen(), spec.headDim()),
                    uniform(rnd, 1, spec.kvHeads(), s.kvLen(), spec.headDim()), uniform(rnd, 1, spec.kvHeads(), s.kvLen(), spec.vHeadDim()));
            double[] a = ReferenceAttention.attend(spec, floats).out().toDoubleArray();
            double[] b = ReferenceAttention.attend(spec, stored(floats, storage)).out().toDoubleArray();
            for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static FloatTensor uniform(SplittableRandom rnd, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        float[] data = t.data();
        for (int i = 0; i < data.length; i++) data[i] = (float) (rnd.nextDouble() * 2 - 1);
        return t;
    }

    private static String message(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static String environment() {
        Runtime rt = Runtime.getRuntime();
        return "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + "), " + rt.availableProcessors()
                + " cores, " + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", max heap " + (rt.maxMemory() >> 20) + " MiB";
    }
}
