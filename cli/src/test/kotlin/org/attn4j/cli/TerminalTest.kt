package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.ints.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldEndWith

class TerminalTest : StringSpec({

    "plain text, including non-ASCII letters, prints unchanged" {
        Terminal.safe("seed004-gqa · Ω 日本") shouldBe "seed004-gqa · Ω 日本"
        Terminal.safe(null) shouldBe "null"
    }

    "control characters, C1 controls, line separators and bidi overrides print as escapes" {
        Terminal.safe("a\nb\rc\td") shouldBe "a\\nb\\rc\\td"
        Terminal.safe("\u001b[2Kred\u0007") shouldBe "\\x1b[2Kred\\x07"
        Terminal.safe("x\u009by\u007f") shouldBe "x\\u009by\\x7f"
        Terminal.safe("a\u2028b\u202ec\u2066") shouldBe "a\\u2028b\\u202ec\\u2066"
        // the backslash itself is escaped, so an escape in the output always means a control character in the input
        Terminal.safe("C:\\n") shouldBe "C:\\\\n"
    }

    "line cuts long text to the limit and says how much was left out" {
        val long = "x".repeat(1000)
        val cut = Terminal.line(long, 100)
        cut.length shouldBeLessThanOrEqual 100
        cut shouldEndWith "... (" + (1000 - cut.indexOf("...")) + " more characters)"
        cut.startsWith("x".repeat(cut.indexOf("..."))) shouldBe true
        Terminal.line("short", 100) shouldBe "short"
        // escapes count towards the limit
        Terminal.line("\u001b".repeat(100), 100).length shouldBeLessThanOrEqual 100
    }
})
