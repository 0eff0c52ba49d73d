package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.kernels.cpu.ScalarCpuKernels
import org.attn4j.kernels.cpu.CpuKernels

/** A smoke test of the probe: every line is produced, with finite figures. Timings are never checked. */
class KernelProbeTest : StringSpec({
    "the probe reports every kernel with finite figures, on both kernel implementations" {
        for (kernels in listOf(CpuKernels.get(), ScalarCpuKernels.INSTANCE)) {
            val lines = KernelProbe.probe(kernels, 1, 100)
            lines.toList() shouldHaveSize 8
            for (line in lines) {
                line shouldNotContain "NaN"
                line shouldNotContain "Infinity"
            }
            lines[0] shouldContain "scores   d  64"
            lines[2] shouldContain "dot      d 128"
            lines[3] shouldContain "dot      d 576"
            lines[7] shouldContain "p2-item"
        }
    }
})
