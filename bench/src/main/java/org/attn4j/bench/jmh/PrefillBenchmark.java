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
 * Prefill (P1, P2) on the {@code cpu} backend: one {@code plan.run(q, k, v)} per invocation, inputs built once per
 * trial. {@code vector} and {@code scalar} differ only in the fork's {@code -Dattn4j.cpu.vector=false}.
 *
 * <pre>java -jar bench/target/benchmarks.jar PrefillBenchmark -p workload=P2</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class PrefillBenchmark {
    /** P1 or P2. */
    @Param({"P1", "P2"})
    public String workload;

    /** Sequence length; 0 = the workload's own (P1 2048, P2 1024). */
    @Param({"0"})
    public int length;

    /** Plan threads; 0 = all available processors. */
    @Param({"0"})
    public int threads;

    private AttnRun run;

    @Setup(Level.Trial)
    public void setUp() {
        Workload w = Workload.byName(workload);
        if (length > 0) w = Workload.prefill(w.name(), w.batch(), w.qHeads(), w.kvHeads(), w.headDim(), length, w.causal());
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
