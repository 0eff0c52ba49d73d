package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

class BackendsCommandTest : StringSpec({
    "lists every backend on the class path with its precision" {
        val run = runAttn("backends")
        run.exit shouldBe 0
        run.out shouldContain "reference    float64   available"
        run.out shouldContain "cpu          float32"
        run.out shouldContain "opencl"
    }

    "every command has --help" {
        for (cmd in listOf("verify", "cost", "backends")) {
            val run = runAttn(cmd, "--help")
            run.exit shouldBe 0
            run.out shouldContain "Usage: attn $cmd"
        }
    }
})
