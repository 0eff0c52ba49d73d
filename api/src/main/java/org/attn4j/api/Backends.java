package org.attn4j.api;

import java.util.ArrayList;
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

    /** The first available backend that supports {@code problem}; otherwise an error listing each one's reasons. */
    public static AttentionBackend select(AttentionProblem problem) {
        List<String> why = new ArrayList<>();
        for (AttentionBackend b : all()) {
            if (!b.isAvailable()) {
                why.add(b.name() + ": unavailable: " + b.unavailableReason().orElse("?"));
                continue;
            }
            Support s = b.support(problem);
            if (s.isSupported()) return b;
            why.add(b.name() + ": " + String.join("; ", s.reasons()));
        }
        throw new AttentionException("no backend supports " + problem + why.stream().collect(Collectors.joining("\n  ", "\n  ", "")));
    }
}
