package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * A causal prefill at L = 32768 (B1, 2 q heads / 1 kv head, d64) on the cpu backend in a child JVM with a 1 GiB heap,
 * where an L x L float score buffer (4 GiB per head) cannot fit. The child also checks six output rows per head
 * against float64 (see [LongPrefillCheck]).
 */
class LongPrefillTest : StringSpec({

    "causal prefill at L = 32768 runs in -Xmx1g with correct rows" {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val cmd = listOf(java, "-Xmx1g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "-cp", System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path"), "org.attn4j.bench.LongPrefillCheck", "32768", "cpu")
        val p = ProcessBuilder(cmd).redirectErrorStream(true).start()
        val finished = p.waitFor(10, TimeUnit.MINUTES)
        if (!finished) p.destroyForcibly()
        val out = p.inputStream.bufferedReader().readText()
        println(out.trim())
        finished shouldBe true
        out.lines().last { it.isNotBlank() } shouldStartWith "OK L=32768"
        p.exitValue() shouldBe 0
    }
})
