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
 * M1, the MLA absorbed decode core on the {@code cpu} backend: 16 absorbed queries ({@code c + rope = 576} wide) over
 * the latent cache {@code [1, 1, Lk, 576]} as one shared head, values = a view of the first 512 latent columns. The
 * cache is built once per trial and never appended to. Bytes read per call: {@code 4·Lk·576} (37.7 MB at Lk 16384).
 *
 * <pre>java -jar bench/target/benchmarks.jar MlaDecodeBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MlaDecodeBenchmark {
    /** Cached tokens; 0 = M1's own 16384. */
    @Param({"0"})
    public int kvLength;

    /** Plan threads; 0 = all available processors. */
    @Param({"0"})
    public int threads;

    private AttnRun run;

    @Setup(Level.Trial)
    public void setUp() {
        Workload w = Workload.M1;
        if (kvLength > 0) w = Workload.mlaDecode(w.name(), w.batch(), w.qHeads(), w.mla(), kvLength);
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
