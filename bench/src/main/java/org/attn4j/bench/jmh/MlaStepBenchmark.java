package org.attn4j.bench.jmh;

import org.attn4j.api.Backends;
import org.attn4j.bench.MlaDecode;
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
 * A whole M1 decode step in both MLA orders on the {@code cpu} backend (see {@link MlaDecode}): {@code absorbed}
 * (q W_UK, attention over the latent, W_UV) against {@code naive} (decompress the whole cache to per-head K/V, then MHA
 * attention). The latent cache is fixed per trial; nothing is appended.
 *
 * <pre>java -jar bench/target/benchmarks.jar MlaStepBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g", "-XX:+UseTransparentHugePages"})
public class MlaStepBenchmark {
    /** Cached tokens; 0 = M1's own 16384. */
    @Param({"0"})
    public int kvLength;

    private MlaDecode absorbed;
    private MlaDecode naive;

    @Setup(Level.Trial)
    public void setUp() {
        Workload w = Workload.M1;
        if (kvLength > 0) w = Workload.mlaDecode(w.name(), w.batch(), w.qHeads(), w.mla(), kvLength);
        MlaDecode.Data d = MlaDecode.Data.random(w, 42);
        int threads = Jmh.threads(0);
        absorbed = MlaDecode.absorbed(Backends.byName("cpu"), d, threads);
        naive = MlaDecode.naive(Backends.byName("cpu"), d, threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        absorbed.close();
        naive.close();
    }

    @Benchmark
    public float[] absorbed() {
        return absorbed.step();
    }

    @Benchmark
    public float[] naive() {
        return naive.step();
    }
}
