package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.nio.file.Files
import java.nio.file.Path

/**
 * `attn run` survives what a script does to its JVM: exit calls, endless loops, stack and heap exhaustion.
 * The scripts run in a child JVM, so these tests start real child JVMs (each pays the Kotlin compiler's warm-up).
 */
class RunIsolationTest : StringSpec({
    val dir = Files.createTempDirectory("attn-run-isolation")

    fun script(name: String, text: String): Path = dir.resolve(name).also { Files.writeString(it, text.trimIndent() + "\n") }

    "exit calls, stack overflows and OOMs fail their script or expectation; the other scripts still run, then the summary" {
        val overflow = script("overflow.attn.kts", """
            fun deep(n: Int): Int = deep(n + 1) + 1
            expect("recurses forever") { deep(0) > 0 }
            expect("after the overflow") { 1 shouldBe 1 }
        """)
        val exitInBody = script("exit-body.attn.kts", """
            expect("a wrong claim") { 1 shouldBe 2 }
            System.exit(0)
        """)
        val oom = script("oom.attn.kts", """
            expect("allocates an impossible array") { LongArray(Int.MAX_VALUE).size > 0 }
            expect("after the OOM") { 2 shouldBe 2 }
        """)
        val exitInExpect = script("exit-expect.attn.kts", """
            expect("a wrong claim") { 1 shouldBe 2 }
            expect("ends the JVM") { kotlin.system.exitProcess(3) }
            expect("never checked") { true }
        """)
        val fine = script("fine.attn.kts", """
            expect("holds") { 3 shouldBe 3 }
        """)
        val r = runAttn("run", overflow.toString(), exitInBody.toString(), oom.toString(), exitInExpect.toString(), fine.toString())
        r.out shouldContain "  FAIL     recurses forever: StackOverflowError ("
        r.out shouldContain "  pass     after the overflow"
        r.out shouldContain "  FAIL     $exitInBody: EXIT called with status 0"
        r.out shouldContain "  FAIL     allocates an impossible array: OutOfMemoryError: Requested array size exceeds VM limit ("
        r.out shouldContain "  pass     after the OOM"
        r.out shouldContain "  FAIL     a wrong claim"
        r.out shouldContain "  FAIL     $exitInExpect: EXIT called with status 3"
        r.out shouldNotContain "never checked"
        r.out shouldContain "  pass     holds"
        r.outLines.last() shouldBe "3 passed, 3 failed; failed scripts: $exitInBody (EXIT called with status 0), " +
            "$exitInExpect (EXIT called with status 3)"
        (r.out + r.err) shouldNotContain "\tat "
        r.exit shouldBe 1
    }

    "a script over --timeout is stopped and reported; the next script runs in a new JVM" {
        val loop = script("loop.attn.kts", """
            expect("loops forever") { while (true) { }; true }
        """)
        val fine = script("after-loop.attn.kts", """
            expect("holds") { 3 shouldBe 3 }
        """)
        val r = runAttn("run", "--timeout", "20", loop.toString(), fine.toString())
        r.out shouldContain "  FAIL     $loop: TIMEOUT after 20 s"
        r.outLines.last() shouldBe "1 passed, 0 failed; failed scripts: $loop (TIMEOUT after 20 s)"
        r.exit shouldBe 1
    }

    "what a script prints reaches attn's output; a compile error is still bad input" {
        val printing = script("printing.attn.kts", """
            println("hello from the script")
            expect("holds") { 1 shouldBe 1 }
        """)
        val broken = script("broken.attn.kts", """
            val b: Int = "not a number"
        """)
        val r = runAttn("run", printing.toString(), broken.toString())
        r.out shouldContain "hello from the script"
        r.err shouldContain "$broken:1: "
        r.exit shouldBe Attn.EXIT_BAD_INPUT
    }
})
