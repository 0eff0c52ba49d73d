package org.attn4j.api;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/** Discovery and selection of {@link AttentionBackend}s through {@link ServiceLoader}. */
public final class Backends {
    private Backends() {
    }

    /** Every backend on the class path, available or not, in class-path order. */
    public static List<AttentionBackend> all() {
        List<AttentionBackend> out = new ArrayList<>();
        for (AttentionBackend b : ServiceLoader.load(AttentionBackend.class)) out.add(b);
        return out;
    }

    /** The backends that can run on this machine. */
    public static List<AttentionBackend> available() {
        return all().stream().filter(AttentionBackend::isAvailable).toList();
    }

    /** The backend with this name; fails naming the known ones, or the reason it is unavailable. */
    public static AttentionBackend byName(String name) {
        List<AttentionBackend> all = all();
        for (AttentionBackend b : all) {
            if (b.name().equals(name)) {
                b.unavailableReason().ifPresent(r -> {
                    throw new AttentionException("backend '" + name + "' is not available: " + r);
                });
                return b;
            }
        }
        throw AttentionException.invalid("backend", "one of " + all.stream().map(AttentionBackend::name).toList(), "'" + name + "'");
    }

    /**
     * The backend to run {@code problem} on, as xFormers dispatches: of every backend on the class path, in
     * {@link #byPriority priority order}, the first that is available and {@link AttentionBackend#support supports}
     * it. Fails, when none does, with each backend's reasons.
     */
    public static AttentionBackend select(AttentionProblem problem) {
        return select(problem, all());
    }

    /** {@link #select(AttentionProblem)} among {@code candidates} (tried in {@link #byPriority priority order}). */
    public static AttentionBackend select(AttentionProblem problem, List<AttentionBackend> candidates) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        AttentionException.require(candidates != null, "candidates", "a list of backends", "null");
        List<String> why = new ArrayList<>();
        for (AttentionBackend b : byPriority(candidates)) {
            if (!b.isAvailable()) {
                why.add(b.name() + ": unavailable: " + b.unavailableReason().orElse("?"));
                continue;
            }
            Support s = b.support(problem);
            if (s.isSupported()) return b;
            why.add(b.name() + ": " + String.join("; ", s.reasons()));
        }
        if (why.isEmpty()) why.add("no backend on the class path (add attn4j-reference, -kernels-cpu or -kernels-gpu)");
        throw new AttentionException("no backend supports " + problem + why.stream().collect(Collectors.joining("\n  ", "\n  ", "")));
    }

    /**
     * {@code backends} ordered by {@link AttentionBackend#priority()}, highest first; equal priorities by name, so the
     * order does not depend on the class path.
     */
    public static List<AttentionBackend> byPriority(List<AttentionBackend> backends) {
        return backends.stream()
                .sorted(Comparator.comparingInt(AttentionBackend::priority).reversed().thenComparing(AttentionBackend::name))
                .toList();
    }
}
