package org.attn4j.backend.ort;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.AttentionOutput;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.Float32Range;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Support;
import org.attn4j.api.Tensor;
import org.attn4j.backend.ort.OnnxAttentionModel.MaskKind;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A plan of the onnxruntime backend: one ORT session per model variant the calls need (mask kind and rank,
 * {@code nonpad_kv_seqlen} or not), made on first use and kept until {@link #close()}. ORT sessions may be run by
 * several threads at once, so the plan is thread-safe.
 *
 * <p>Inputs are copied to float32 row-major buffers (the op reads contiguous tensors); a mask or bias is passed with
 * its own shape, exactly as given, as {@code attn_mask}; {@code kv_lens} become {@code nonpad_kv_seqlen}. ORT's output
 * is returned as it comes, with one exception that the SPI requires of every float32 backend: a non-finite output
 * from inputs beyond the float32-safe range is an {@link AttentionException} naming the input.
 */
final class OrtAttentionPlan implements AttentionPlan {
    private final AttentionProblem problem;
    private final int threads;
    private final Map<OnnxAttentionModel.Options, OrtSession> sessions = new ConcurrentHashMap<>();
    /** Runs hold the read lock, close() the write lock: ORT crashes the JVM if a session is closed under a run. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    OrtAttentionPlan(AttentionProblem problem, PlanOptions options) {
        this.problem = problem;
        this.threads = options.threads();
    }

    @Override
    public AttentionProblem problem() {
        return problem;
    }

    @Override
    public AttentionOutput run(AttentionInputs inputs) {
        AttentionException.require(inputs != null, "inputs", "attention inputs", "null");
        AttentionSpec spec = problem.spec();
        AttentionProblem actual = inputs.validate(spec);
        // ORT's CPU provider has no bfloat16 Attention and runs float16 ~21x slower than float32 (docs/PERFORMANCE.md),
        // so this backend declines the reduced types (supportStorage's default) and refuses them here too, rather than
        // widening them silently.
        for (var input : java.util.Map.of("q", inputs.q(), "k", inputs.k(), "v", inputs.v()).entrySet()) {
            if (input.getValue().dtype().isReduced()) {
                throw AttentionException.invalid(input.getKey() + ".dtype", "FLOAT32 or FLOAT64 (backend '" + OrtBackend.NAME
                        + "' declines reduced storage types)", input.getValue().dtype());
            }
        }
        // Sizes and optional inputs may differ from the planned ones; they must still be expressible in ONNX.
        List<String> reasons = OrtBackend.reasons(actual);
        if (!reasons.isEmpty()) Support.of(reasons).orThrow(OrtBackend.NAME, actual);
        Float32Range.requireFits(inputs);
        lifecycle.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("plan is closed");
            return runOpen(spec, actual, inputs);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private AttentionOutput runOpen(AttentionSpec spec, AttentionProblem actual, AttentionInputs inputs) {

        MaskKind maskKind = inputs.mask() != null ? MaskKind.BOOL : inputs.bias() != null ? MaskKind.FLOAT : MaskKind.NONE;
        Tensor maskTensor = inputs.mask() != null ? inputs.mask() : inputs.bias();
        OnnxAttentionModel.Options model = new OnnxAttentionModel.Options(spec.causal(), spec.scale(), spec.softcap(),
                maskKind, maskTensor == null ? 0 : maskTensor.rank(), inputs.kvLens() != null);
        int b = actual.batch(), lq = actual.qLen(), lk = actual.kvLen();
        float[] y;
        OrtEnvironment env = Ort.env();
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put("Q", floats(env, inputs.q()));
            in.put("K", floats(env, inputs.k()));
            in.put("V", floats(env, inputs.v()));
            if (maskKind == MaskKind.BOOL) in.put("attn_mask", bools(env, inputs.mask()));
            if (maskKind == MaskKind.FLOAT) in.put("attn_mask", floats(env, inputs.bias()));
            if (inputs.kvLens() != null) {
                int[] lens = inputs.kvLens().toIntArray();
                long[] nonpad = new long[lens.length];
                for (int i = 0; i < lens.length; i++) nonpad[i] = lens[i];
                in.put("nonpad_kv_seqlen", OnnxTensor.createTensor(env, nonpad));
            }
            try (OrtSession.Result r = session(env, model).run(in)) {
                FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
                y = new float[out.remaining()];
                out.get(y);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed: " + shorten(e.getMessage()), e);
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
        int expected = Math.multiplyExact(Math.multiplyExact(b, spec.qHeads()), Math.multiplyExact(lq, spec.vHeadDim()));
        if (y.length != expected) {
            throw new IllegalStateException("ONNX Runtime returned " + y.length + " values, expected " + expected);
        }
        for (float x : y) {
            if (!Float.isFinite(x)) {
                Float32Range.Magnitudes m = Float32Range.magnitudes(spec, inputs);
                if (!m.beyondRange().isEmpty()) throw Float32Range.overflow(OrtBackend.NAME, "attention", m);
                break; // within range: ORT's own non-finite result, returned as it is
            }
        }
        return new AttentionOutput(FloatTensor.of(y, b, spec.qHeads(), lq, spec.vHeadDim()), null);
    }

    private OrtSession session(OrtEnvironment env, OnnxAttentionModel.Options model) {
        return sessions.computeIfAbsent(model, m -> {
            try {
                OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                options.setIntraOpNumThreads(threads);
                options.setInterOpNumThreads(1);
                options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
                return env.createSession(OnnxAttentionModel.attention(m), options);
            } catch (OrtException e) {
                throw new IllegalStateException("ONNX Runtime rejected the Attention model " + m + ": " + shorten(e.getMessage()), e);
            }
        });
    }

    private static OnnxTensor floats(OrtEnvironment env, Tensor t) throws OrtException {
        float[] x = t.toFloatArray();
        // ORT rejects a zero-capacity direct buffer; an empty tensor still needs a (1-element) backing buffer
        FloatBuffer buf = ByteBuffer.allocateDirect(Math.max(4, Math.multiplyExact(x.length, 4))).order(ByteOrder.nativeOrder()).asFloatBuffer();
        buf.put(x).rewind();
        buf.limit(x.length);
        return OnnxTensor.createTensor(env, buf, longs(t.shape()));
    }

    private static OnnxTensor bools(OrtEnvironment env, BoolTensor t) throws OrtException {
        double[] x = t.toDoubleArray();
        ByteBuffer buf = ByteBuffer.allocateDirect(Math.max(1, x.length));
        for (double d : x) buf.put((byte) (d != 0 ? 1 : 0));
        buf.rewind();
        buf.limit(x.length);
        return OnnxTensor.createTensor(env, buf, longs(t.shape()), OnnxJavaType.BOOL);
    }

    private static long[] longs(int[] shape) {
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) s[i] = shape[i];
        return s;
    }

    /** ORT's messages carry the C++ signature of the failed check; keep the readable tail. */
    static String shorten(String message) {
        if (message == null) return "(no message)";
        String m = message.replaceAll("\\s+", " ").trim();
        int at = m.lastIndexOf(" was false. ");
        if (at >= 0) m = m.substring(at + " was false. ".length()).trim();
        return m.length() > 300 ? m.substring(0, 300) + "..." : m;
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            for (OrtSession s : sessions.values()) {
                try {
                    s.close();
                } catch (OrtException ignored) {
                    // already released: nothing else to free
                }
            }
            sessions.clear();
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
