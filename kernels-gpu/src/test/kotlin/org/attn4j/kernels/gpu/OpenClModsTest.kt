package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.FloatTensor
import org.attn4j.api.OptionalInput
import org.attn4j.api.PlanOptions

/** Score/mask mods are Java lambdas: the OpenCL backend must decline them by name, never ignore them. */
class OpenClModsTest : StringSpec({
    val backend = Backends.all().first { it.name() == "opencl" }
    val spec = AttentionSpec.of(2, 1, 4)

    "support() declines SCORE_MOD and MASK_MOD with reasons" {
        val s = backend.support(AttentionProblem.of(spec, 1, 3, 3, OptionalInput.SCORE_MOD, OptionalInput.MASK_MOD))
        s.isSupported shouldBe false
        s.reasons().filter { it.startsWith("SCORE_MOD") || it.startsWith("MASK_MOD") } shouldHaveSize 2
    }

    "run() with a scoreMod fails with the reason instead of computing without it" {
        if (backend.isAvailable) {
            val plan = backend.plan(AttentionProblem.of(spec, 1, 3, 3), PlanOptions.defaults())
            plan.use {
                val q = FloatTensor.zeros(1, 2, 3, 4); val k = FloatTensor.zeros(1, 1, 3, 4); val v = FloatTensor.zeros(1, 1, 3, 4)
                val e = shouldThrow<AttentionException> { it.run(AttentionInputs.of(q, k, v).withScoreMod { s, _, _, _, _ -> s }) }
                e.message!! shouldContain "SCORE_MOD"
            }
        } else {
            System.err.println("OpenClModsTest: run() part not exercised: " + backend.unavailableReason().orElse("?"))
            (System.getenv("CI") == "true") shouldBe false // in CI the backend must be available
        }
    }
})
