package org.attn4j.cli

import com.fasterxml.jackson.databind.ObjectMapper
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain

class CostCommandTest : StringSpec({

    "default tables carry the article's ratios and the formulas" {
        val run = runAttn("cost")
        run.exit shouldBe 0
        run.out shouldContain "article-256"
        run.out shouldContain "deepseek-v2"
        run.out shouldContain "MQA params = "
        run.out shouldContain "MLA KV elements/token/layer = c + r"
    }

    "--json for a config given by flags: MQA and GQA follow 0.5 + 0.5*g/h (worked by hand)" {
        val run = runAttn("cost", "--json", "--hidden", "512", "--heads", "16", "--kv-heads", "4",
            "--kv-lora-rank", "64", "--rope", "16")
        run.exit shouldBe 0
        val reports = ObjectMapper().readTree(run.out)
        reports.size() shouldBe 1
        val variants = reports[0]["variants"]
        variants.map { it["label"].asText() } shouldBe listOf("MHA", "MQA", "GQA-4", "MLA")
        // h = 16, d_h = 32, no biases: MHA = 4*512*512; MQA = 2*512*512 + 2*512*32 -> 0.5 + 0.5/16
        variants[0]["params"].asLong() shouldBe 4L * 512 * 512
        variants[1]["paramsVsMha"].asDouble() shouldBe (0.5 + 0.5 / 16 plusOrMinus 1e-12)
        variants[2]["paramsVsMha"].asDouble() shouldBe (0.5 + 0.5 * 4 / 16 plusOrMinus 1e-12)
        // cache: MHA 2*h*d_h = 1024 elements; MQA 1/h; GQA g/h; MLA c + r = 80
        variants[1]["kvVsMha"].asDouble() shouldBe (1.0 / 16 plusOrMinus 1e-12)
        variants[2]["kvVsMha"].asDouble() shouldBe (4.0 / 16 plusOrMinus 1e-12)
        variants[3]["kvElementsPerToken"].asLong() shouldBe 80L
    }

    "--kv-dtype counts the cache's bytes by type; int8 adds a 4-byte scale per token and KV head (worked by hand)" {
        val run = runAttn("cost", "--json", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--kv-lora-rank", "512",
            "--rope", "64", "--kv-dtype", "int8")
        run.exit shouldBe 0
        val v = ObjectMapper().readTree(run.out)[0]["variants"]
        // GQA-8: 2 rows (K, V) x 8 heads x (128 one-byte elements + a 4-byte scale) = 2,112 B; MLA: 576 + 4 = 580 B
        v[2]["kvBytesPerToken"].asLong() shouldBe 2L * 8 * (128 + 4)
        v[3]["kvBytesPerToken"].asLong() shouldBe 580L
        val bf16 = ObjectMapper().readTree(runAttn("cost", "--json", "--hidden", "4096", "--heads", "32", "--kv-heads", "8",
            "--kv-dtype", "bf16").out)[0]["variants"]
        bf16[2]["kvBytesPerToken"].asLong() shouldBe 2L * 8 * 128 * 2
        val text = runAttn("cost", "--kv-dtype", "f32")
        text.exit shouldBe 0
        text.out shouldContain "f32 KV cache (4 B/element)"
        text.out shouldContain "KV bytes/token/layer = "
        runAttn("cost", "--kv-dtype", "int8").out shouldContain "(int8: a float32 scale per token and KV head)"
    }

    "a bad --kv-dtype, or --kv-dtype with --bytes, is one error line naming the option" {
        val bad = runAttn("cost", "--kv-dtype", "fp4")
        bad.exit shouldBe 2
        bad.err shouldContain "--kv-dtype"
        bad.err shouldContain "fp4"
        val both = runAttn("cost", "--kv-dtype", "bf16", "--bytes", "4")
        both.exit shouldBe 2
        both.err shouldContain "--bytes"
    }

    "a half-given config is one clear error line" {
        val run = runAttn("cost", "--hidden", "512")
        run.exit shouldBe 2
        run.err shouldContain "--heads"
    }

    "bad dimensions name the argument" {
        val run = runAttn("cost", "--hidden", "512", "--heads", "16", "--kv-heads", "5")
        run.exit shouldBe 2
        run.err shouldContain "kvGroups"
    }

    "sizes whose counts overflow 64 bits are one error line naming the options, exit 2" {
        val run = runAttn("cost", "--hidden", "2147483647", "--heads", "1")
        run.exit shouldBe 2
        run.err.lines().filter { it.isNotBlank() } shouldBe listOf(run.err.trim())
        run.err shouldContain "--hidden"
        run.err shouldContain "64-bit"
        run.err shouldNotContain "Exception"
        run.err shouldNotContain "\tat "
        val ctx = runAttn("cost", "--hidden", "4096", "--heads", "32", "--layers", "1000", "--context", "9223372036854775807")
        ctx.exit shouldBe 2
        ctx.err shouldContain "--context"
    }

    "MLA widths whose sum overflows an int are costed in long, with no negative figure" {
        val run = runAttn("cost", "--json", "--hidden", "512", "--heads", "16", "--kv-lora-rank", "64",
            "--rope", "2147483646", "--nope", "2")
        run.err shouldBe ""
        run.exit shouldBe 0
        val mla = ObjectMapper().readTree(run.out)[0]["variants"][3]
        mla["label"].asText() shouldBe "MLA"
        // cache c + r = 64 + 2147483646, worked by hand
        mla["kvElementsPerToken"].asLong() shouldBe 2147483710L
        run.out shouldNotContain "-2147483648"
    }
})
