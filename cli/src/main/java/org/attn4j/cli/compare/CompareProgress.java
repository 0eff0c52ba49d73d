package org.attn4j.cli.compare;

/** Progress of the slow part (the measurements); {@code attn compare} draws it as progress bars. */
public interface CompareProgress {
    /** A new group of {@code steps} steps starts, e.g. "cpu" with one step per kernel. */
    default void begin(String task, long steps) {
    }

    /** One step done; {@code message} says what was measured. */
    default void step(String message) {
    }

    /** The group ended. */
    default void end() {
    }

    CompareProgress NONE = new CompareProgress() {
    };
}
