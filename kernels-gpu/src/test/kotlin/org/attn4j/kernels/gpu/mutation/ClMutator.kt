package org.attn4j.kernels.gpu.mutation

/**
 * A small source mutator for OpenCL C (PIT cannot mutate `attention.cl`). It scans the text into tokens, skipping
 * comments, preprocessor lines and string/char literals, and proposes one-change mutants:
 *
 * | kind | change |
 * |---|---|
 * | `REL` | a relational operator flipped: `<`↔`<=`, `>`↔`>=`, `==`↔`!=` |
 * | `BOUND` | a `for` loop's bound minus one: `i < n` → `i < (n) - 1` (plus one is the `REL` flip already) |
 * | `INDEX+1`, `INDEX-1` | an index expression plus or minus one: `a[i]` → `a[(i) + 1]` |
 * | `MINMAX` | `fmin`↔`fmax`, `min`↔`max` |
 * | `RESCALE` | an online-softmax rescale dropped: `exp(a - b)` → `(REAL) 1`, or `x * f` → `x` for a rescale factor `f` |
 * | `BARRIER` | a `barrier(...)` call removed |
 * | `ACC` | an accumulation `s += t` → `s -= t` (not in `for` headers, where it would only hang) |
 *
 * Each mutant's id is `KIND:line:column` (1-based, of the token changed), stable while the source is unchanged.
 */
object ClMutator {
    /** Variables that carry the online softmax's rescale factor (`attend`'s alpha and final factor, the merge weight). */
    val RESCALE_FACTORS = setOf("alpha", "rowAlpha", "w")

    enum class Kind(val label: String) {
        REL("REL"), BOUND("BOUND"), INDEX_PLUS("INDEX+1"), INDEX_MINUS("INDEX-1"), MINMAX("MINMAX"),
        RESCALE("RESCALE"), BARRIER("BARRIER"), ACC("ACC")
    }

    /** One change: replace `source[start, end)` by [replacement]. */
    data class Mutant(
        val kind: Kind,
        val line: Int,
        val column: Int,
        val start: Int,
        val end: Int,
        val original: String,
        val replacement: String,
    ) {
        val id: String get() = "${kind.label}:$line:$column"

        fun apply(source: String): String = source.substring(0, start) + replacement + source.substring(end)
    }

    data class Token(val text: String, val start: Int) {
        val end: Int get() = start + text.length
        val isIdent: Boolean get() = text[0].isLetter() || text[0] == '_'
    }

    private val OPERATORS = listOf("<<=", ">>=", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=", "%=",
        "&=", "|=", "^=", "++", "--", "<<", ">>", "->")

    /** The code tokens of [source]: comments, `#` lines (with `\` continuations) and literals are skipped. */
    fun tokens(source: String): List<Token> {
        val out = ArrayList<Token>()
        var i = 0
        var lineStart = true
        while (i < source.length) {
            val c = source[i]
            when {
                c == '\n' -> { lineStart = true; i++ }
                c.isWhitespace() -> i++
                source.startsWith("//", i) -> i = source.indexOf('\n', i).let { if (it < 0) source.length else it }
                source.startsWith("/*", i) -> i = source.indexOf("*/", i + 2).let { if (it < 0) source.length else it + 2 }
                c == '#' && lineStart -> {
                    // a preprocessor line, continued while it ends in a backslash
                    while (i < source.length && source[i] != '\n') {
                        if (source[i] == '\\' && i + 1 < source.length && source[i + 1] == '\n') i++
                        i++
                    }
                }
                c == '"' || c == '\'' -> {
                    i++
                    while (i < source.length && source[i] != c) i += if (source[i] == '\\') 2 else 1
                    i++
                    lineStart = false
                }
                c.isLetterOrDigit() || c == '_' || (c == '.' && i + 1 < source.length && source[i + 1].isDigit()) -> {
                    val s = i
                    // identifiers and numbers (1e-9f, 0x1F, 2.5) are one token
                    while (i < source.length && (source[i].isLetterOrDigit() || source[i] == '_' || source[i] == '.' ||
                            ((source[i] == '-' || source[i] == '+') && source[i - 1].lowercaseChar() == 'e' && source[s].isDigit()))) i++
                    out += Token(source.substring(s, i), s)
                    lineStart = false
                }
                else -> {
                    val op = OPERATORS.firstOrNull { source.startsWith(it, i) } ?: c.toString()
                    out += Token(op, i)
                    i += op.length
                    lineStart = false
                }
            }
        }
        return out
    }

    /** Every mutant of [source], in source order. */
    fun mutants(source: String): List<Mutant> {
        val t = tokens(source)
        val lineStarts = ArrayList<Int>().apply { add(0); source.forEachIndexed { i, c -> if (c == '\n') add(i + 1) } }
        fun position(offset: Int): Pair<Int, Int> {
            var lo = 0
            var hi = lineStarts.size - 1
            while (lo < hi) {
                val mid = (lo + hi + 1) / 2
                if (lineStarts[mid] <= offset) lo = mid else hi = mid - 1
            }
            return (lo + 1) to (offset - lineStarts[lo] + 1)
        }
        val forHeaders = forHeaderRanges(t)
        fun inForHeader(k: Int) = forHeaders.any { k in it.first..it.last }
        val out = ArrayList<Mutant>()
        fun add(kind: Kind, at: Token, start: Int, end: Int, replacement: String) {
            val (line, col) = position(at.start)
            out += Mutant(kind, line, col, start, end, source.substring(start, end), replacement)
        }
        for ((k, tok) in t.withIndex()) {
            val next = t.getOrNull(k + 1)?.text
            when (tok.text) {
                "<", "<=", ">", ">=" -> {
                    val flip = mapOf("<" to "<=", "<=" to "<", ">" to ">=", ">=" to ">").getValue(tok.text)
                    add(Kind.REL, tok, tok.start, tok.end, flip)
                    if (tok.text[0] == '<' && inForCondition(t, k, forHeaders)) {
                        val endTok = t[expressionEnd(t, k + 1) - 1]
                        val bound = source.substring(t[k + 1].start, endTok.end)
                        add(Kind.BOUND, t[k + 1], t[k + 1].start, endTok.end, "($bound) - 1")
                    }
                }
                "==" -> add(Kind.REL, tok, tok.start, tok.end, "!=")
                "!=" -> add(Kind.REL, tok, tok.start, tok.end, "==")
                "fmin", "fmax", "min", "max" -> if (next == "(") {
                    add(Kind.MINMAX, tok, tok.start, tok.end, mapOf("fmin" to "fmax", "fmax" to "fmin", "min" to "max", "max" to "min").getValue(tok.text))
                }
                "[" -> {
                    // attention.cl declares no arrays, so every [...] is an index
                    val close = matching(t, k)
                    if (close > k + 1) {
                        val inner = source.substring(t[k + 1].start, t[close - 1].end)
                        add(Kind.INDEX_PLUS, t[k + 1], t[k + 1].start, t[close - 1].end, "($inner) + 1")
                        add(Kind.INDEX_MINUS, t[k + 1], t[k + 1].start, t[close - 1].end, "($inner) - 1")
                    }
                }
                "exp" -> if (next == "(") {
                    val close = matching(t, k + 1)
                    val minus = (k + 2 until close).any { t[it].text == "-" && depth(t, k + 1, it) == 1 }
                    if (minus) add(Kind.RESCALE, tok, tok.start, t[close].end, "((REAL) 1)")
                }
                "*" -> if (next in RESCALE_FACTORS && k > 0 && isOperandEnd(t[k - 1]) && t[k - 1].text !in TYPES) {
                    // drop "* f" or "* f[...]": the factor becomes 1
                    var e = k + 1
                    if (t.getOrNull(e + 1)?.text == "[") e = matching(t, e + 1)
                    add(Kind.RESCALE, tok, t[k - 1].end, t[e].end, "")
                }
                "barrier" -> if (next == "(") {
                    val close = matching(t, k + 1)
                    add(Kind.BARRIER, tok, tok.start, t[close].end, "(void) 0")
                }
                "+=" -> if (!inForHeader(k)) add(Kind.ACC, tok, tok.start, tok.end, "-=")
            }
        }
        return out
    }

    /** Type names before a `*` that declares a pointer (`__local REAL* rowAlpha`), not a multiplication. */
    private val TYPES = setOf("REAL", "float", "double", "int", "uint", "long", "uchar", "char", "bool", "void", "const")

    private fun isOperandEnd(t: Token): Boolean = t.isIdent || t.text == ")" || t.text == "]"

    /** The index of the bracket closing the one at [open] (`(`, `[`). */
    private fun matching(t: List<Token>, open: Int): Int {
        val o = t[open].text
        val c = if (o == "(") ")" else "]"
        var d = 0
        for (k in open until t.size) {
            if (t[k].text == o) d++
            if (t[k].text == c && --d == 0) return k
        }
        throw IllegalArgumentException("unbalanced '$o' at offset ${t[open].start}")
    }

    /** Bracket depth of token [at] counted from [from] (an opening bracket). */
    private fun depth(t: List<Token>, from: Int, at: Int): Int {
        var d = 0
        for (k in from until at) {
            when (t[k].text) {
                "(", "[" -> d++
                ")", "]" -> d--
            }
        }
        return d
    }

    /** Token ranges of each `for ( ... )` header, parentheses included. */
    private fun forHeaderRanges(t: List<Token>): List<IntRange> =
        t.indices.filter { t[it].text == "for" && t.getOrNull(it + 1)?.text == "(" }.map { (it + 1)..matching(t, it + 1) }

    /** Whether token [k] is in the condition (between the two `;`) of a `for` header. */
    private fun inForCondition(t: List<Token>, k: Int, headers: List<IntRange>): Boolean = headers.any { h ->
        if (k !in h) return@any false
        val semis = (h.first..h.last).filter { t[it].text == ";" && depth(t, h.first, it) == 1 }
        semis.size == 2 && k > semis[0] && k < semis[1]
    }

    /** The index just past a `for` condition's right operand: the next `;`, `&&`, `||` or closing bracket at depth 0. */
    private fun expressionEnd(t: List<Token>, from: Int): Int {
        var d = 0
        var k = from
        while (k < t.size) {
            when (t[k].text) {
                "(", "[" -> d++
                ")", "]" -> if (d == 0) return k else d--
                ";", "&&", "||", "?", "," -> if (d == 0) return k
            }
            k++
        }
        return k
    }
}
