package org.attn4j.cli;

/**
 * Makes text from outside the program (case names, file names, messages that quote user input) safe to print on a
 * terminal. A name holding a newline or an ANSI escape sequence could otherwise forge lines of output (a fake
 * "1000 passed"), erase them or change colours; every command prints such text through {@link #safe} or
 * {@link #line}.
 */
public final class Terminal {
    /** Longest single line an error message may take before it is cut (stderr stays readable). */
    public static final int MAX_LINE = 240;

    private Terminal() {
    }

    /**
     * {@code text} with every control character escaped so that it prints as one inert line: {@code \n}, {@code \r},
     * {@code \t} and {@code \\} as themselves, other C0/C1 controls (ESC, BEL, ...) as {@code \x1b}-style escapes,
     * and the Unicode line/paragraph separators and bidirectional overrides (which reorder what a reader sees) as
     * {@code \u202e}-style escapes. {@code null} prints as {@code null}.
     */
    public static String safe(Object text) {
        String s = String.valueOf(text);
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String escaped = escape(c);
            if (escaped == null) {
                if (out != null) out.append(c);
                continue;
            }
            if (out == null) out = new StringBuilder(s.length() + 16).append(s, 0, i);
            out.append(escaped);
        }
        return out == null ? s : out.toString();
    }

    /** {@link #safe} and at most {@code max} characters, the cut marked with how much was left out. */
    public static String line(Object text, int max) {
        String s = safe(text);
        if (s.length() <= max) return s;
        // The marker's own length depends on the count it shows: size it for the longest count, then count exactly.
        int keep = Math.max(0, max - marker(s.length()).length());
        if (keep > 0 && Character.isHighSurrogate(s.charAt(keep - 1))) keep--; // do not split a surrogate pair
        return s.substring(0, keep) + marker(s.length() - keep);
    }

    /** {@link #line} with {@link #MAX_LINE}. */
    public static String line(Object text) {
        return line(text, MAX_LINE);
    }

    private static String marker(int leftOut) {
        return "... (" + leftOut + " more characters)";
    }

    private static String escape(char c) {
        switch (c) {
            case '\n': return "\\n";
            case '\r': return "\\r";
            case '\t': return "\\t";
            case '\\': return "\\\\";
            default:
        }
        if (c < 0x20 || c == 0x7f) return String.format("\\x%02x", (int) c);
        if ((c >= 0x80 && c <= 0x9f) || c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e')
                || (c >= '\u2066' && c <= '\u2069') || c == '\u200e' || c == '\u200f' || c == '\u061c') {
            return String.format("\\u%04x", (int) c);
        }
        return null;
    }
}
