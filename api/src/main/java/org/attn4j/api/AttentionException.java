package org.attn4j.api;

/**
 * The one error type of attn4j for bad input: it names the argument, what was expected and
 * what was given, e.g. {@code kvHeads: expected a divisor of qHeads=12, got 5}.
 */
public class AttentionException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String argument;

    public AttentionException(String message) {
        this(null, message, null);
    }

    public AttentionException(String message, Throwable cause) {
        this(null, message, cause);
    }

    private AttentionException(String argument, String message, Throwable cause) {
        super(message, cause);
        this.argument = argument;
    }

    /** {@code argument: expected EXPECTED, got ACTUAL}. */
    public static AttentionException invalid(String argument, Object expected, Object actual) {
        return new AttentionException(argument, argument + ": expected " + expected + ", got " + actual, null);
    }

    /** Checks a condition and throws {@link #invalid} when it does not hold. */
    public static void require(boolean condition, String argument, Object expected, Object actual) {
        if (!condition) throw invalid(argument, expected, actual);
    }

    /** The argument this error is about, or {@code null} when it is not about one argument. */
    public String argument() {
        return argument;
    }
}
