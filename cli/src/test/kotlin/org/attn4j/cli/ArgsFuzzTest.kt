package org.attn4j.cli

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldBeIn
import io.kotest.matchers.ints.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldNotContain
import io.kotest.property.Arb
import io.kotest.property.PropTestConfig
import io.kotest.property.arbitrary.arbitrary
import io.kotest.property.checkAll
import kotlin.random.Random

/** Longest stderr line a fuzzed command may print (error lines are cut at [Terminal.MAX_LINE]). */
private const val MAX_ERR_LINE = 300

/** The exit statuses cli/README.md documents for normal outcomes (4, an internal error, is always a bug). */
private val DOCUMENTED_EXITS = listOf(Attn.EXIT_OK, Attn.EXIT_FAILED, Attn.EXIT_BAD_INPUT, Attn.EXIT_NOTHING_VERIFIED)

/** Reads a corpus file of `src/test/resources/fuzz` (format in its README.md). */
private fun corpus(name: String): List<String> {
    val text = ArgsFuzzTest::class.java.getResource("/fuzz/$name")?.readText() ?: error("missing fuzz corpus $name")
    return text.lines().filter { it.isNotEmpty() && !it.startsWith("#") }.map(::unescape)
}

private fun unescape(s: String): String {
    val out = StringBuilder()
    var i = 0
    while (i < s.length) {
        val c = s[i]
        if (c != '\\' || i + 1 == s.length) {
            out.append(c)
            i++
            continue
        }
        when (val e = s[i + 1]) {
            'n' -> out.append('\n')
            'r' -> out.append('\r')
            't' -> out.append('\t')
            'e' -> out.append('\u001b')
            '0' -> out.append('\u0000')
            '\\' -> out.append('\\')
            'u' -> {
                out.append(s.substring(i + 2, i + 6).toInt(16).toChar())
                i += 4
            }
            else -> out.append('\\').append(e)
        }
        i += 2
    }
    return out.toString()
}

/** Characters a long random value is made of: letters, digits, signs, controls, escapes, separators, bidi. */
private const val HOSTILE_CHARS = "aZ09-=.,:/@'\" \t\n\r\u0000\u0007\u001b[\u007f\u009b\u2028\u202e\u00e9\u65e5"

/**
 * Random `attn` command lines (from the committed corpus plus long random values) for the commands that answer at
 * once: cost, verify (on single small cases), backends, and bench with an unknown backend appended so that it always
 * fails validation before measuring. Each must end with a documented exit status, no stack trace, and stderr lines
 * that are short and free of raw control characters. Iterations: `-Dattn4j.fuzz.iterations=N`; seed:
 * `-Dattn4j.fuzz.seed=S` (a failure prints the seed that reproduces it).
 */
class ArgsFuzzTest : StringSpec({
    val values = corpus("values.txt") + ""
    val perCommand = listOf("cost", "verify", "backends", "bench").associateWith { corpus("$it.txt") }
    val iterations = System.getProperty("attn4j.fuzz.iterations")?.toInt() ?: 200
    val seed = System.getProperty("attn4j.fuzz.seed")?.toLong() ?: Random.nextLong()

    fun longValue(rnd: Random): String =
        String(CharArray(rnd.nextInt(200, 3000)) { HOSTILE_CHARS[rnd.nextInt(HOSTILE_CHARS.length)] })

    val commandLines = arbitrary { rs ->
        val rnd = rs.random
        val command = perCommand.keys.random(rnd)
        val own = perCommand.getValue(command)
        val args = mutableListOf(command)
        repeat(rnd.nextInt(0, 8)) {
            args += when (rnd.nextInt(20)) {
                0 -> longValue(rnd)
                in 1..10 -> own.random(rnd)
                else -> values.random(rnd)
            }
        }
        // The measuring path of bench takes minutes: always end with a backend that does not exist.
        if (command == "bench") args += listOf("--backend", "nosuch-fuzz")
        args
    }

    "random command lines end with a documented exit status, no stack trace, short clean stderr lines" {
        checkAll(PropTestConfig(seed = seed, iterations = iterations), commandLines) { args ->
            val run = runAttn(*args.toTypedArray())
            withClue("seed $seed, args ${args.map { Terminal.safe(it) }}, stderr: ${Terminal.line(run.err, 2000)}") {
                run.exit shouldBeIn DOCUMENTED_EXITS
                run.err shouldNotContain "\tat "
                run.err shouldNotContain "Exception in thread"
                run.err shouldNotContain "internal error"
                for (line in run.err.lines()) {
                    line.length shouldBeLessThanOrEqual MAX_ERR_LINE
                    // a raw control character would let the input rewrite the terminal
                    line.filter { it.isISOControl() } shouldBe ""
                }
            }
        }
    }

    "the corpus reads as intended: escapes decode, hostile values are present" {
        values.any { it.contains('\u001b') } shouldBe true
        values.any { it.contains('\n') } shouldBe true
        unescape("a\\u0041\\e\\\\") shouldBe "aA\u001b\\"
    }
})
