package org.attn4j.bench.jmh;

/** Shared bits of the JMH benchmarks. */
final class Jmh {
    private Jmh() {
    }

    /** A thread-count parameter: 0 = all available processors. */
    static int threads(int param) {
        return param > 0 ? param : Runtime.getRuntime().availableProcessors();
    }
}
