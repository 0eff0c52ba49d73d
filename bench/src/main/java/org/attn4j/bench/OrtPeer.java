package org.attn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * The peer: ONNX Runtime Java (CPU execution provider) running the same shapes in the same JVM, through one
 * {@code Attention}-23 node (see {@link OnnxModels}). Prefill uses {@code is_causal} as the workload says; decode and
 * the MLA workload use the non-causal model over the whole cache (ONNX's causal mask is top-left aligned, so a causal
 * 1 × Lk query would see only key 0). MLA is run in its absorbed form as MQA over the latent: Q/K width
 * {@code c + rope}, V width {@code c}, scale {@code 1/sqrt(nope + rope)}.
 *
 * <p>Sessions: intra-op threads = {@code threads} (ORT counts the calling thread), inter-op 1, sequential,
 * all graph optimisations. Inputs are direct buffers wrapped once; the timed call is {@code session.run} plus closing
 * its result (the way ONNX Runtime's own Java examples time a session).
 *
 * <p>Only {@link Peers} names this class (by string): it links to ONNX Runtime, an optional dependency that need not
 * be on the class path, so callers hold it as a {@link Peers.Peer}.
 */
public final class OrtPeer implements Peers.Peer {
    private final OrtEnvironment env;
    private final int threads;
    private final List<AutoCloseable> owned = new ArrayList<>();

    private OrtPeer(OrtEnvironment env, int threads) {
        this.env = env;
        this.threads = threads;
    }

    /**
     * Loads ONNX Runtime; never throws: a failure becomes the reason. {@link Peers} calls this by reflection, through
     * the class loader that holds ONNX Runtime.
     */
    public static Peers.Availability open(int threads) {
        try {
            OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            return new Peers.Availability(new OrtPeer(env, threads), null);
        } catch (LinkageError | RuntimeException e) {
            return new Peers.Availability(null, "ONNX Runtime could not be loaded: " + e);
        }
    }

    /** The ONNX Runtime version, e.g. {@code 1.24.1}. */
    @Override
    public String version() {
        return env.getVersion();
    }

    /** One workload's inputs bound to a session, ready to run many times. */
    public final class Prepared implements Peers.Prepared {
        private final OrtSession session;
        private final Map<String, OnnxTensor> inputs;
        private boolean closed;

        private Prepared(OrtSession session, Map<String, OnnxTensor> inputs) {
            this.session = session;
            this.inputs = inputs;
        }

        @Override
        public void run() throws OrtException {
            try (OrtSession.Result r = session.run(inputs)) {
                if (r.size() != 1) throw new IllegalStateException("expected one output, got " + r.size());
            }
        }

        @Override
        public float[] output() throws OrtException {
            try (OrtSession.Result r = session.run(inputs)) {
                FloatBuffer y = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] out = new float[y.remaining()];
                y.get(out);
                return out;
            }
        }

        @Override
        public void close() throws OrtException {
            if (closed) return;
            closed = true;
            for (OnnxTensor t : inputs.values()) t.close();
            session.close();
        }
    }

    /** Binds {@code data} to an Attention-23 session for its workload. */
    @Override
    public Prepared prepare(BenchData data) throws OrtException {
        Workload w = data.workload();
        boolean causal = w.kind() == Workload.Kind.PREFILL && w.causal();
        OptionalDouble scale = w.mla() != null ? OptionalDouble.of(w.scale()) : OptionalDouble.empty();
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        owned.add(options);
        OrtSession session = env.createSession(OnnxModels.attention(causal, scale), options);
        Map<String, OnnxTensor> in = new HashMap<>();
        in.put("Q", tensor(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim()));
        in.put("K", tensor(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()));
        in.put("V", tensor(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()));
        Prepared p = new Prepared(session, in);
        owned.add(p);
        return p;
    }

    private OnnxTensor tensor(float[] x, long... shape) throws OrtException {
        FloatBuffer b = ByteBuffer.allocateDirect(Math.multiplyExact(x.length, 4)).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(x).rewind();
        return OnnxTensor.createTensor(env, b, shape);
    }

    /** Closes every session and tensor made by this peer (the ORT environment itself is a process singleton). */
    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // already closed, or ORT refused: nothing else to release
            }
        }
        owned.clear();
    }
}
