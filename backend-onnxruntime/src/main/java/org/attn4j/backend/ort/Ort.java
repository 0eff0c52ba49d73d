package org.attn4j.backend.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;

import java.util.Optional;

/**
 * The process-wide ORT environment, loaded on first use. Loading never throws out of here: a missing native library
 * (or jar) becomes {@link #unavailableReason()}, so that {@code ServiceLoader} can still list the backend.
 */
final class Ort {
    private Ort() {
    }

    private static final class Holder {
        static final OrtEnvironment ENV;
        static final String FAILURE;

        static {
            OrtEnvironment env = null;
            String failure = null;
            try {
                // ERROR level: ORT logs every rejected call (e.g. a mask rank it does not read) as an error; the
                // exception carries the same text, so the console is left to the caller.
                env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            } catch (LinkageError | RuntimeException e) {
                failure = "ONNX Runtime could not be loaded: " + e;
            }
            ENV = env;
            FAILURE = failure;
        }
    }

    static Optional<String> unavailableReason() {
        try {
            return Optional.ofNullable(Holder.FAILURE);
        } catch (LinkageError e) { // the ORT jar itself is absent
            return Optional.of("ONNX Runtime is not on the class path: " + e);
        }
    }

    static Optional<String> version() {
        return unavailableReason().isPresent() ? Optional.empty() : Optional.of(Holder.ENV.getVersion());
    }

    static OrtEnvironment env() {
        if (Holder.FAILURE != null) throw new IllegalStateException(Holder.FAILURE);
        return Holder.ENV;
    }
}
