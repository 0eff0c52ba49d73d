package org.attn4j.kernels.gpu;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts the OpenCL objects a {@link ClContext} creates and releases, per kind, so that tests can check that
 * every object created was released on every path.
 */
final class ClTracker {
    enum Kind { CONTEXT, QUEUE, PROGRAM, KERNEL, MEM }

    private final AtomicLongArray created = new AtomicLongArray(Kind.values().length);
    private final AtomicLongArray released = new AtomicLongArray(Kind.values().length);

    void created(Kind kind) {
        created.incrementAndGet(kind.ordinal());
    }

    void released(Kind kind) {
        released.incrementAndGet(kind.ordinal());
    }

    long created(Kind kind, boolean total) {
        return total ? created.get(kind.ordinal()) : created.get(kind.ordinal()) - released.get(kind.ordinal());
    }

    /** Objects created and not yet released, per kind. */
    Map<Kind, Long> live() {
        Map<Kind, Long> m = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) m.put(k, created.get(k.ordinal()) - released.get(k.ordinal()));
        return m;
    }

    /** Objects ever created, per kind. */
    Map<Kind, Long> total() {
        Map<Kind, Long> m = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) m.put(k, created.get(k.ordinal()));
        return m;
    }
}
