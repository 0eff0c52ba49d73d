package org.attn4j.cli.compare;

/** The result of timing one kernel on one backend, or why it was not timed. */
public sealed interface Speed {
    String backend();

    /**
     * A timed kernel (steady state: see {@link org.attn4j.bench.Timing#steady}).
     *
     * @param millis          median wall time of one call
     * @param minMillis       fastest timed call
     * @param maxMillis       slowest timed call
     * @param calls           timed calls
     * @param warmupCalls     untimed calls before them
     * @param settled         whether the warm-up times settled within the budget (false: the figure may still include
     *                        JIT or first-call costs)
     * @param tokensPerSecond prefill: queries per second; decode: generated tokens (calls) per second
     * @param gflops          attention FLOPs per second / 1e9 ({@link org.attn4j.bench.Workload#flops()})
     * @param gbPerSecond     decode only: cache bytes read per second / 1e9 ({@link org.attn4j.bench.Workload#bytesRead()})
     * @param note            how the measurement departed from the usual path, if it did
     */
    record Timed(String backend, double millis, double minMillis, double maxMillis, int calls, int warmupCalls, boolean settled,
                 double tokensPerSecond, double gflops, Double gbPerSecond, String note) implements Speed {
    }

    /** Not timed: the backend declines the problem (its reasons), failed, or its time budget was spent. */
    record NotTimed(String backend, String reason) implements Speed {
    }
}
