package org.attn4j.kernels.cpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.FloatTensor
import org.attn4j.api.MaskMod
import org.attn4j.api.PlanOptions
import org.attn4j.api.ScoreMod
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs
import kotlin.math.max
import kotlin.random.Random

/** FlexAttention-style mods on the cpu backend, against the float64 reference. */
class CpuModsTest : StringSpec({
    val backend = CpuBackend()
    fun t(rnd: Random, vararg shape: Int) =
        FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { rnd.nextDouble(-1.5, 1.5).toFloat() }, *shape)

    // relative-position bias and a document mask (documents of 5 positions), as in FlexAttention's examples
    val relBias = ScoreMod { s, _, h, i, j -> s - 0.05 * (h + 1) * abs(i - j) }
    val docs = MaskMod { b, _, i, j -> (i + b) / 5 == (j + b) / 5 }

    "score and mask mods match the reference across shapes, tile edges, GQA, causal and windows" {
        val rnd = Random(11)
        for ((lq, lk, d) in listOf(Triple(1, 1, 3), Triple(7, 7, 16), Triple(17, 33, 13), Triple(65, 65, 64), Triple(3, 130, 17))) {
            for (spec in listOf(
                AttentionSpec.builder(6, 2, d).build(),
                AttentionSpec.builder(4, 4, d).causal().softcap(3.0).build(),
                AttentionSpec.builder(8, 1, d).causal().window(4, 0).build(),
            )) {
                val inputs = AttentionInputs.of(t(rnd, 2, spec.qHeads(), lq, d), t(rnd, 2, spec.kvHeads(), lk, d), t(rnd, 2, spec.kvHeads(), lk, d))
                    .withScoreMod(relBias).withMaskMod(docs)
                val ref = ReferenceAttention.attend(spec, inputs)
                val got = backend.plan(inputs.validate(spec), PlanOptions.defaults()).use { it.run(inputs) }
                val r = ref.out().toDoubleArray(); val g = got.out().toDoubleArray()
                var worst = 0.0
                for (n in r.indices) worst = max(worst, abs(r[n] - g[n]) / (1e-5 + 1e-4 * abs(r[n])))
                worst shouldBeLessThan 1.0 // FORMAT's float32 tolerance, element-wise
                val rl = ref.lse().toDoubleArray(); val gl = got.lse()!!.toDoubleArray()
                for (n in rl.indices) {
                    if (rl[n] == Double.NEGATIVE_INFINITY) gl[n] shouldBeLessThan -1e30
                    else abs(rl[n] - gl[n]) shouldBeLessThan 1e-4
                }
            }
        }
    }

    "a scoreMod returning NaN is an AttentionException naming where, not a NaN output" {
        val rnd = Random(3)
        val spec = AttentionSpec.of(2, 1, 8)
        val inputs = AttentionInputs.of(t(rnd, 1, 2, 4, 8), t(rnd, 1, 1, 4, 8), t(rnd, 1, 1, 4, 8))
            .withScoreMod { s, _, h, i, j -> if (h == 1 && i == 2 && j == 3) Double.NaN else s }
        val e = shouldThrow<AttentionException> { backend.plan(inputs.validate(spec), PlanOptions.defaults()).use { it.run(inputs) } }
        e.message!! shouldContain "scoreMod(b=0, h=1, i=2, j=3)"
    }
})
