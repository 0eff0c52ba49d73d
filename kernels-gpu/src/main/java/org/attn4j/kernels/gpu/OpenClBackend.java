package org.attn4j.kernels.gpu;

import org.attn4j.api.AbstractAttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
import org.attn4j.api.KvCacheSpec;
import org.attn4j.api.LayerConfig;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.LayerWeights;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PathSizes;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Precision;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Support;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Attention on an OpenCL 1.2 device through LWJGL, registered for {@link java.util.ServiceLoader} as {@code opencl}.
 *
 * <p>Device: the system property {@code attn4j.opencl.device} or else the environment variable
 * {@code ATTN4J_OPENCL_DEVICE} ({@code "platform:device"} indices such as {@code "0:1"}, or a case-insensitive
 * substring of the platform and device names); without either, the first GPU, else the first CPU device.
 * No OpenCL library, platform or matching device: {@link #isAvailable()} is false and
 * {@link #unavailableReason()} says why.
 *
 * <p>Precision: advertises {@link Precision#FLOAT32}; outputs are float32, except that kernel calls whose
 * q, k and v are all float64 (and layers whose weights are all float64) run in double on devices with
 * {@code cl_khr_fp64} and return float64 tensors.
 *
 * <p>Resources: backends made by the public constructor (what ServiceLoader calls) share one context per device
 * selector for the life of the process; plans retain it while open. {@link #close()} on such a backend only
 * detaches it. A backend made with {@link #withPrivateContext(String)} owns its context: closing the backend and
 * every plan it made releases everything.
 *
 * <pre>{@code
 * AttentionBackend gpu = Backends.byName("opencl");
 * try (AttentionPlan plan = gpu.plan(AttentionProblem.of(spec, 1, 128, 128), PlanOptions.defaults())) {
 *     AttentionOutput o = plan.run(AttentionInputs.of(q, k, v));
 * }
 * }</pre>
 */
public final class OpenClBackend extends AbstractAttentionBackend implements AutoCloseable {
    public static final String NAME = "opencl";
    public static final String DEVICE_PROPERTY = "attn4j.opencl.device";
    public static final String DEVICE_ENV = "ATTN4J_OPENCL_DEVICE";

    /** One discovered device and its context per selector, shared by every public-constructor backend. */
    private static final ConcurrentHashMap<String, Shared> SHARED = new ConcurrentHashMap<>();

    private static final class Shared {
        final ClDevice.Discovery discovery;
        final ClTracker tracker = new ClTracker();
        ClContext context;

        Shared(ClDevice.Discovery discovery) {
            this.discovery = discovery;
        }

        synchronized ClContext context() {
            if (context == null) context = new ClContext(discovery.device(), tracker);
            return context;
        }
    }

    private final String selector;
    private final Shared shared;        // null for a private backend
    private final ClDevice.Discovery ownDiscovery;
    private final ClTracker ownTracker;
    private final String kernelSource;  // null: the attention.cl resource
    private ClContext ownContext;
    private boolean closed;

    /** The backend on the device chosen by {@code attn4j.opencl.device} / {@code ATTN4J_OPENCL_DEVICE} or the default. */
    public OpenClBackend() {
        this(selectorFromEnvironment(), false, null);
    }

    private OpenClBackend(String selector, boolean privateContext, String kernelSource) {
        this.selector = selector == null ? "" : selector;
        this.kernelSource = kernelSource;
        if (privateContext) {
            this.shared = null;
            this.ownDiscovery = safeDiscover(this.selector);
            this.ownTracker = new ClTracker();
        } else {
            this.shared = SHARED.computeIfAbsent(this.selector, s -> new Shared(safeDiscover(s)));
            this.ownDiscovery = null;
            this.ownTracker = null;
        }
    }

    /**
     * A backend that owns its OpenCL context on the device {@code selector} names ({@code null}: the default
     * choice). Close it (and its plans) to release every OpenCL object it created.
     */
    public static OpenClBackend withPrivateContext(String selector) {
        return new OpenClBackend(selector, true, null);
    }

    /**
     * A private-context backend whose programs are built from {@code kernelSource} instead of {@code attention.cl}
     * (mutation testing of the OpenCL source runs the TCK on each mutant through this; not public API).
     */
    static OpenClBackend withKernelSource(String selector, String kernelSource) {
        return new OpenClBackend(selector, true, java.util.Objects.requireNonNull(kernelSource, "kernelSource"));
    }

    static String selectorFromEnvironment() {
        try {
            String p = System.getProperty(DEVICE_PROPERTY);
            if (p != null && !p.isBlank()) return p;
            String e = System.getenv(DEVICE_ENV);
            return e == null ? "" : e;
        } catch (SecurityException e) {
            return "";
        }
    }

    private static ClDevice.Discovery safeDiscover(String selector) {
        try {
            return ClDevice.discover(selector);
        } catch (Throwable t) {
            return new ClDevice.Discovery(null, "OpenCL device discovery failed: " + t);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Precision precision() {
        return Precision.FLOAT32;
    }

    @Override
    public Optional<String> unavailableReason() {
        ClDevice.Discovery d = discovery();
        return Optional.ofNullable(d.reason());
    }

    /** The device this backend runs on, e.g. {@code 0:0 'pthread-haswell' [CPU] on 'Portable Computing Language'}. */
    public Optional<String> deviceDescription() {
        ClDevice d = discovery().device();
        return d == null ? Optional.empty() : Optional.of(d.toString());
    }

    private ClDevice.Discovery discovery() {
        return shared != null ? shared.discovery : ownDiscovery;
    }

    ClTracker tracker() {
        return shared != null ? shared.tracker : ownTracker;
    }

    /** A plan that always splits the keys {@code splits} ways (tests of the split-KV merge; 0 = choose). */
    OpenClAttentionPlan plan(AttentionProblem problem, PlanOptions options, int splits) {
        return (OpenClAttentionPlan) new Splitting(splits).plan(problem, options);
    }

    /** A layer plan whose attention always splits the keys {@code splits} ways (tests). */
    LayerPlan planLayer(LayerConfig config, LayerWeights weights, int splits) {
        return planLayer(config, weights, PlanOptions.defaults(), splits);
    }

    /** A layer plan with {@code options} whose attention always splits the keys {@code splits} ways (tests). */
    LayerPlan planLayer(LayerConfig config, LayerWeights weights, PlanOptions options, int splits) {
        return new Splitting(splits).planLayer(config, weights, options);
    }

    /** This backend with a forced split-KV count (tests): the same device, checks and plans. */
    private final class Splitting extends AbstractAttentionBackend {
        private final int splits;

        Splitting(int splits) {
            this.splits = splits;
        }

        @Override public String name() { return NAME; }
        @Override public Precision precision() { return OpenClBackend.this.precision(); }
        @Override protected Support supportOf(AttentionProblem problem) { return OpenClBackend.this.supportOf(problem); }
        @Override protected Support layerSupportOf(LayerConfig config) { return OpenClBackend.this.layerSupportOf(config); }
        @Override protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
            return new OpenClAttentionPlan(context(), problem, options, splits);
        }
        @Override protected LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options) {
            return new OpenClStandardLayer(context(), config, weights, splits);
        }
        @Override protected LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
            return new OpenClMlaLayer(context(), config, weights, options.mlaPath(), splits);
        }
    }

    /** The device context (tests: to build programs directly). */
    ClContext contextForTests() {
        return context();
    }

    private synchronized ClContext context() {
        if (closed) throw new AttentionException("opencl: the backend is closed");
        ClDevice.Discovery d = discovery();
        if (d.device() == null) throw new AttentionException("backend '" + NAME + "' is not available: " + d.reason());
        if (shared != null) return shared.context();
        if (ownContext == null) ownContext = new ClContext(d.device(), ownTracker, kernelSource);
        return ownContext;
    }

    /** Float64 inputs run in double when the device has {@code cl_khr_fp64} (PoCL does); everything else in float32. */
    @Override
    public Precision precisionFor(DType inputs) {
        ClDevice.Discovery d = discovery();
        return inputs == DType.FLOAT64 && d.device() != null && d.device().fp64() ? Precision.FLOAT64 : Precision.FLOAT32;
    }

    /**
     * The attend kernel's tiles (KernelSet.tiles): 32 or 64 keys (64 while a row tile has at most 8 rows), row tiles
     * up to 32; keys are split once they exceed one key tile; its work-groups of up to 64 (merge) and 128 (attend)
     * items stride over head_dim. Caches are contiguous (no pages).
     */
    @Override
    public PathSizes pathSizes() {
        return new PathSizes(List.of(32, 64), List.of(8, 32), List.of(64), List.of(64, 128), List.of());
    }

    /** A GPU (or accelerator) before the CPU kernels; a device that is itself the CPU (PoCL) after them. */
    @Override
    public int priority() {
        ClDevice d = discovery().device();
        return d != null && !d.type().contains("CPU") ? 30 : 10;
    }

    @Override
    protected Support supportOf(AttentionProblem problem) {
        List<String> reasons = new ArrayList<>();
        ClDevice.Discovery d = discovery();
        if (d.device() == null) {
            reasons.add("opencl is unavailable: " + d.reason());
        } else {
            String local = localMemoryReason(d.device(), problem.spec().headDim(), problem.spec().vHeadDim());
            if (local != null) reasons.add(local);
        }
        reasons.addAll(modReasons(problem));
        return Support.of(reasons);
    }

    /** Java lambdas cannot run inside an OpenCL kernel. */
    static List<String> modReasons(AttentionProblem problem) {
        List<String> reasons = new ArrayList<>();
        if (problem.has(org.attn4j.api.OptionalInput.SCORE_MOD)) {
            reasons.add("SCORE_MOD: a Java scoreMod lambda cannot run inside an OpenCL kernel (use backend 'cpu' or 'reference')");
        }
        if (problem.has(org.attn4j.api.OptionalInput.MASK_MOD)) {
            reasons.add("MASK_MOD: a Java maskMod lambda cannot run inside an OpenCL kernel (use backend 'cpu' or 'reference', or pass a bool mask)");
        }
        return reasons;
    }

    private static String localMemoryReason(ClDevice device, int headDim, int vHeadDim) {
        long need = KernelSet.attendLocalBytes(RealType.FLOAT32, 1, 1, headDim, vHeadDim);
        long have = device.localMemSize() - 64;
        return need <= have ? null : "head_dim " + headDim + " + v_head_dim " + vHeadDim + " need " + need
                + " bytes of local memory per work-group at least; " + device + " offers " + have;
    }

    @Override
    protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
        return new OpenClAttentionPlan(context(), problem, options, 0);
    }

    /**
     * Float32 and float64 as before; float16, bfloat16 and int8 K/V (kernel inputs and caches) are read in their
     * stored type and converted to float inside the {@code attend} kernel, on the float32 path.
     */
    @Override
    public Support supportStorage(DType dtype) {
        AttentionException.require(dtype != null, "dtype", "a dtype", "null");
        if (dtype.isReal()) return Support.ok();
        return super.supportStorage(dtype);
    }

    /**
     * A contiguous {@link OpenClKvCache}: keys and values in device buffers of the spec's storage type; appends
     * upload only their rows, decodes read them in place. Close it to free the device memory early.
     */
    @Override
    public KvCache newKvCache(KvCacheSpec spec) {
        AttentionException.require(spec != null, "spec", "a KV-cache spec", "null");
        supportStorage(spec.dtype()).orThrow(name(), "a " + spec.dtype() + " KV cache");
        return OpenClKvCache.contiguous(context(), spec);
    }

    /** A contiguous float32 {@link OpenClKvCache}. */
    @Override
    public KvCache newKvCache(int sequences, int kvHeads, int maxLength, int headDim, int vHeadDim) {
        return newKvCache(new KvCacheSpec(precision().dtype(), sequences, kvHeads, maxLength, headDim, vHeadDim));
    }

    /**
     * A paged {@link OpenClKvCache} of {@code spec}'s geometry and storage type: {@code pageCount} pages of
     * {@code pageSize} tokens on the device, shared by the sequences through block tables (as {@code PagedKvCache}).
     */
    public OpenClKvCache newPagedKvCache(KvCacheSpec spec, int pageSize, int pageCount) {
        AttentionException.require(spec != null, "spec", "a KV-cache spec", "null");
        supportStorage(spec.dtype()).orThrow(name(), "a " + spec.dtype() + " KV cache");
        return OpenClKvCache.paged(context(), spec, pageSize, pageCount);
    }

    @Override
    protected Support layerSupportOf(LayerConfig config) {
        List<String> reasons = new ArrayList<>();
        ClDevice.Discovery d = discovery();
        if (d.device() == null) {
            reasons.add("opencl is unavailable: " + d.reason());
            return Support.of(reasons);
        }
        String local = switch (config) {
            case StandardLayerConfig c -> localMemoryReason(d.device(), c.headDim(), c.headDim());
            case MlaLayerConfig c -> localMemoryReason(d.device(), c.latentWidth(), c.kvLoraRank());
        };
        if (local != null) reasons.add(local);
        return Support.of(reasons);
    }

    @Override
    protected LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options) {
        return new OpenClStandardLayer(context(), config, weights, 0);
    }

    @Override
    protected LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
        return new OpenClMlaLayer(context(), config, weights, options.mlaPath(), 0);
    }

    /**
     * Detaches this backend. A private-context backend drops its reference to its context (released once its
     * plans are closed too); a shared one leaves the process-wide context alone.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (ownContext != null) {
            ownContext.release();
            ownContext = null;
        }
    }

    @Override
    public String toString() {
        return "OpenClBackend[" + deviceDescription().orElse("unavailable: " + unavailableReason().orElse("?")) + "]";
    }
}
