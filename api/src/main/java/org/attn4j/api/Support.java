package org.attn4j.api;

import java.util.List;

/**
 * A backend's answer to "can you run this?": supported, or every reason why not, in words a user can
 * act on (e.g. {@code "SINKS: not implemented by opencl"}).
 */
public record Support(List<String> reasons) {
    private static final Support OK = new Support(List.of());

    public Support {
        reasons = List.copyOf(reasons);
    }

    public static Support ok() {
        return OK;
    }

    public static Support no(String... reasons) {
        return new Support(List.of(reasons));
    }

    public static Support of(List<String> reasons) {
        return reasons.isEmpty() ? OK : new Support(reasons);
    }

    public boolean isSupported() {
        return reasons.isEmpty();
    }

    /** Throws an {@link AttentionException} listing the reasons, when unsupported. */
    public void orThrow(String backend, Object what) {
        if (!isSupported()) {
            throw new AttentionException("backend '" + backend + "' does not support " + what + ": " + String.join("; ", reasons));
        }
    }
}
