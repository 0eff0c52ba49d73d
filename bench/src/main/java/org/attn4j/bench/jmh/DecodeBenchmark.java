package org.attn4j.bench.jmh;

import org.attn4j.api.Backends;
import org.attn4j.api.Tensor;
import org.attn4j.bench.AttnRun;
import org.attn4j.bench.BenchData;
import org.attn4j.bench.Workload;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Decode (D1, D2) on the {@code cpu} backend: the KV cache is filled once per trial, each invocation is
 * {@code plan.decode(q, cache)}, which reads the cache and appends nothing, so the cache does not grow across
 * invocations. {@code kvHeads} = 32 gives the MHA twin (4x the bytes). Bytes read per call:
 * {@code 4·B·Hkv·Lk·(D + Dv)} (D1: 134 MB, D2: 268 MB).
 *
 * <pre>java -jar bench/target/benchmarks.jar DecodeBenchmark -p workload=D2</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecodeBenchmark {
    /** D1 or D2. */
    @Param({"D1", "D2"})
    public String workload;

    /** Cached tokens per sequence; 0 = the workload's own (D1 16384, D2 4096). */
    @Param({"0"})
    public int kvLength;

    /** KV heads; 0 = the workload's own (8, GQA); 32 = MHA. */
    @Param({"0"})
    public int kvHeads;

    /** Plan threads; 0 = all available processors. */
    @Param({"0"})
    public int threads;

    private AttnRun run;

    @Setup(Level.Trial)
    public void setUp() {
        Workload w = Workload.byName(workload);
        int hkv = kvHeads > 0 ? kvHeads : w.kvHeads();
        int lk = kvLength > 0 ? kvLength : w.kvLen();
        w = Workload.decode(w.name(), w.batch(), w.qHeads(), hkv, w.headDim(), lk);
        run = AttnRun.prepare(Backends.byName("cpu"), BenchData.random(w, 42), Jmh.threads(threads));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        run.close();
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g", "-XX:+UseTransparentHugePages"})
    public Tensor vector() {
        return run.run();
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g", "-XX:+UseTransparentHugePages",
            "-Dattn4j.cpu.vector=false"})
    public Tensor scalar() {
        return run.run();
    }
}
