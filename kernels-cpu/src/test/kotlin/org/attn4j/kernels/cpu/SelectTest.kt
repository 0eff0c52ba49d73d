package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends

/** Backends.select on a class path with cpu and reference (and no other backend): the cpu first, the reference as the fallback. */
class SelectTest : StringSpec({
    "select picks cpu for an ordinary problem, the reference when cpu declines" {
        Backends.byPriority(Backends.all()).map { it.name() } shouldBe listOf("cpu", "reference")
        Backends.select(AttentionProblem.of(AttentionSpec.builder(4, 2, 8).causal().build(), 1, 16, 16)).name() shouldBe "cpu"
        // an output of 2^20 * 4096 floats does not fit one Java array: cpu declines, the reference (exact, slow) fits
        val huge = AttentionProblem.of(AttentionSpec.builder(1, 1, 4096).build(), 1, 1 shl 20, 1)
        CpuBackend().support(huge).isSupported shouldBe false
        Backends.select(huge).name() shouldBe "reference"
    }
})
