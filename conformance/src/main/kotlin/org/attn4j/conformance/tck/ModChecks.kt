package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionInputs
import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod
import org.attn4j.conformance.tck.KernelGenes.maybe
import kotlin.math.abs
import kotlin.math.tanh

/**
 * FlexAttention-style hooks (`score_mod`, `mask_mod`) against the float64 reference. The mods are pure functions
 * derived from the case's data seed, so a failing case replays and shrinks like any other.
 */
object ModChecks {
    val ALL: List<TckCheck> by lazy {
        listOf(
            check("kernel/score-mod", "score_mod after scale, softcap, bias and ALiBi: relative position, tanh cap, a per-(b,h,i,j) bias",
                withScoreMod = true, withMaskMod = false),
            check("kernel/mask-mod", "mask_mod after every built-in visibility rule: documents, prefix-LM, a sparse hash pattern",
                withScoreMod = false, withMaskMod = true),
            check("kernel/score-and-mask-mod", "both hooks at once, with the other options on at random",
                withScoreMod = true, withMaskMod = true),
        )
    }

    private fun check(name: String, description: String, withScoreMod: Boolean, withMaskMod: Boolean): TckCheck {
        val profile = KernelGenes.everything(0.2) + maybe(0.5, KernelGene.CAUSAL)
        return TckCheck(name, description) { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, config.iterations) { c ->
                var inputs = c.inputs
                if (withScoreMod) inputs = inputs.withScoreMod(scoreMod(c.dataSeed))
                if (withMaskMod) inputs = inputs.withMaskMod(maskMod(c.dataSeed))
                judge(backend, c, inputs)
            }
        }
    }

    private fun judge(backend: AttentionBackend, c: KernelCase, inputs: AttentionInputs): CaseOutcome {
        val ran = try {
            Runs.kernel(backend, c.spec, inputs)
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        return when (ran) {
            is Runs.Ran.Declined -> CaseOutcome.Declined(ran.reasons)
            is Runs.Ran.Done -> Runs.precisionOf(backend, ran.output.out()).let { p -> Expected.of(c.spec, inputs, p).judge(ran.output, p) }
        }
    }

    /** One of three score mods, chosen by [seed]; every one returns a finite score for a finite one. */
    internal fun scoreMod(seed: Long): ScoreMod = when (Math.floorMod(seed, 3L)) {
        0L -> ScoreMod { s, _, h, i, j -> s - 0.05 * (h + 1) * abs(i - j) }          // relative position
        1L -> ScoreMod { s, _, _, _, _ -> 4.0 * tanh(s / 4.0) }                       // a softcap written as a mod
        else -> ScoreMod { s, b, h, i, j -> s + 2.0 * unit(seed, b, h, i, j) - 1.0 }  // any bias the kernel can't guess
    }

    /** One of three mask mods, chosen by [seed]. */
    internal fun maskMod(seed: Long): MaskMod {
        val span = 1 + Math.floorMod(seed ushr 8, 9L).toInt()
        return when (Math.floorMod(seed ushr 4, 3L)) {
            0L -> MaskMod { b, _, i, j -> (i + b) / span == (j + b) / span }         // documents of `span` tokens
            1L -> MaskMod { _, _, i, j -> j < span || j <= i }                        // prefix-LM: a visible prefix
            else -> MaskMod { b, h, i, j -> unit(seed, b, h, i, j) < 0.7 }             // 30 % of keys hidden at random
        }
    }

    /** A deterministic value in [0, 1) for one score position (SplitMix64's finaliser). */
    private fun unit(seed: Long, b: Int, h: Int, i: Int, j: Int): Double {
        var z = seed + 0x9E3779B97F4A7C15uL.toLong() * (1 + b + 31L * (h + 31L * (i + 4099L * j)))
        z = (z xor (z ushr 30)) * -0x40a7b892e31b1a47L
        z = (z xor (z ushr 27)) * -0x6b2fb644ecceee15L
        z = z xor (z ushr 31)
        return (z ushr 11) * (1.0 / (1L shl 53))
    }
}
