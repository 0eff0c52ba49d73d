package org.attn4j.bench;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.SplittableRandom;

/**
 * Does ONNX Runtime's CPU provider take float16 / bfloat16 inputs for the {@code Attention} op, and at what speed
 * against float32? The peer question of issue 18, answered by measurement: D1's decode shape (one query, 8 heads,
 * 4096 keys, head dim 128) through one {@code Attention}-23 node per element type, calls interleaved in one JVM,
 * median and fastest of {@code reps} calls each. A type ORT cannot run is reported with its error.
 *
 * <p>Run by hand: {@code java -cp <bench jar + onnxruntime jar> org.attn4j.bench.OrtHalfPeer [reps] [threads]}.
 */
public final class OrtHalfPeer {
    private OrtHalfPeer() {
    }

    public static void main(String[] args) throws OrtException {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int b = 1, h = 8, l = 4096, d = 128;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OrtSession> sessions = new LinkedHashMap<>();
        Map<String, Map<String, OnnxTensor>> inputs = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(18);
        for (int type : new int[]{OnnxModels.FLOAT, OnnxModels.FLOAT16, OnnxModels.BFLOAT16}) {
            String name = type == OnnxModels.FLOAT ? "float32" : type == OnnxModels.FLOAT16 ? "float16" : "bfloat16";
            try {
                OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                options.setIntraOpNumThreads(threads);
                OrtSession session = env.createSession(OnnxModels.attention(false, OptionalDouble.empty(), type), options);
                Map<String, OnnxTensor> in = new HashMap<>();
                for (String input : new String[]{"Q", "K", "V"}) {
                    long[] shape = input.equals("Q") ? new long[]{b, h, 1, d} : new long[]{b, h, l, d};
                    int count = (int) (shape[0] * shape[1] * shape[2] * shape[3]);
                    if (type == OnnxModels.FLOAT) {
                        FloatBuffer f = FloatBuffer.allocate(count);
                        for (int i = 0; i < count; i++) f.put(i, (float) rnd.nextDouble(-1, 1));
                        in.put(input, OnnxTensor.createTensor(env, f, shape));
                    } else {
                        ShortBuffer s = ShortBuffer.allocate(count);
                        for (int i = 0; i < count; i++) {
                            float x = (float) rnd.nextDouble(-1, 1);
                            s.put(i, type == OnnxModels.FLOAT16 ? Float.floatToFloat16(x) : (short) (Float.floatToIntBits(x) >>> 16));
                        }
                        in.put(input, OnnxTensor.createTensor(env, s, shape,
                                type == OnnxModels.FLOAT16 ? OnnxJavaType.FLOAT16 : OnnxJavaType.BFLOAT16));
                    }
                }
                session.run(in).close(); // a type ORT cannot run fails here, before timing
                sessions.put(name, session);
                inputs.put(name, in);
            } catch (OrtException e) {
                System.out.println(name + ": not run by ONNX Runtime " + env.getVersion() + ": "
                        + e.getMessage().lines().findFirst().orElse(""));
            }
        }
        Map<String, List<Double>> times = new LinkedHashMap<>();
        for (int rep = 0; rep < reps + 5; rep++) {
            for (var e : sessions.entrySet()) {
                long t0 = System.nanoTime();
                e.getValue().run(inputs.get(e.getKey())).close();
                double ms = (System.nanoTime() - t0) / 1e6;
                if (rep >= 5) times.computeIfAbsent(e.getKey(), x -> new ArrayList<>()).add(ms); // 5 warm-up rounds
            }
        }
        double f32 = median(times.getOrDefault("float32", List.of(Double.NaN)));
        for (var e : times.entrySet()) {
            List<Double> t = new ArrayList<>(e.getValue());
            Collections.sort(t);
            System.out.printf("%-8s decode B1 H8 L4096 D128, ORT %s CPU EP, %d threads: median %.2f ms, fastest %.2f ms, %.2fx float32%n",
                    e.getKey(), env.getVersion(), threads, median(t), t.get(0), median(t) / f32);
        }
    }

    private static double median(List<Double> values) {
        List<Double> t = new ArrayList<>(values);
        Collections.sort(t);
        return t.get(t.size() / 2);
    }
}
