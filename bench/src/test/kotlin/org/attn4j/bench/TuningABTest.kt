package org.attn4j.bench

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.api.AttentionException
import org.attn4j.kernels.cpu.CpuTuning

/** The A/B tool: parsing, and one line per tuning with finite figures on tiny workloads. Timings are never checked. */
class TuningABTest : StringSpec({
    "tunings are queryRows x kvTile, the other fields the defaults" {
        val t = TuningAB.parse("256x64, 32x16")
        t shouldHaveSize 2
        t[0].queryRows() shouldBe 256
        t[1].kvTile() shouldBe 16
        t[1].maxSplits() shouldBe CpuTuning.DEFAULT.maxSplits()
    }

    "a malformed or out-of-range tuning is an AttentionException naming it" {
        for (bad in listOf("256", "x64", "256x", "ax64", "0x64", "256x64x2", "-1x64")) {
            val e = shouldThrow<AttentionException> { TuningAB.parse(bad) }
            e.message!! shouldContain (if (bad.startsWith("0")) "queryRows" else "tuning")
        }
    }

    "every tuning gets a line, on prefill, decode and MLA decode" {
        for (name in listOf("P1", "D2", "M1")) {
            val lines = TuningAB.compare(Workload.tiny(name), 2, TuningAB.parse("8x4,256x64"), 3, 0.0)
            lines shouldHaveSize 3
            lines[0] shouldContain name
            for (line in lines) {
                line shouldNotContain "NaN"
                line shouldNotContain "Infinity"
            }
        }
    }
})
