package org.attn4j.conformance.golden

/**
 * Makes input text safe to quote in a one-line error message: control characters are escaped (so a message is
 * always one line) and long text is cut (so a hostile file cannot produce a megabyte of error).
 */
internal object SafeText {
    /** How much of a quoted input an error message shows. */
    const val QUOTE_LIMIT = 80

    /** Cap on a whole error message: a few quotes plus a path and the explanation. */
    const val MESSAGE_LIMIT = 1000

    /** [text] with control characters escaped, cut after [limit] characters (`...(N chars)` says how long it was). */
    @JvmStatic
    fun escape(text: String, limit: Int = QUOTE_LIMIT): String {
        val sb = StringBuilder(minOf(text.length, limit) + 16)
        var shown = 0
        for (c in text) {
            if (shown >= limit) break
            when {
                c == '\n' -> sb.append("\\n")
                c == '\r' -> sb.append("\\r")
                c == '\t' -> sb.append("\\t")
                c.code < 0x20 || c.code == 0x7f || (c.code in 0x80..0x9f) || c == '\u2028' || c == '\u2029' ->
                    sb.append("\\u%04x".format(c.code))
                else -> sb.append(c)
            }
            shown++
        }
        if (text.length > shown) sb.append("...(").append(text.length).append(" chars)")
        return sb.toString()
    }

    /** [escape]d and in single quotes, for quoting a value read from a file. */
    @JvmStatic
    fun quote(text: String, limit: Int = QUOTE_LIMIT): String = "'" + escape(text, limit) + "'"
}
