package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DoubleTensor
import org.attn4j.api.Feature
import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod
import org.attn4j.api.Tensor
import kotlin.math.abs
import kotlin.math.tanh
import kotlin.random.Random

/**
 * FlexAttention-style score/mask mods. Each test re-expresses a built-in FORMAT.md feature as a mod and
 * requires the same result, so the mods are checked against semantics defined elsewhere.
 */
class ReferenceModsTest : StringSpec({
    val rnd = Random(7)
    fun t(vararg shape: Int) = DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { rnd.nextDouble(-2.0, 2.0) }, *shape)
    fun maxDiff(a: Tensor, b: Tensor): Double =
        a.toDoubleArray().zip(b.toDoubleArray()).maxOf { (x, y) -> if (x == y) 0.0 else abs(x - y) }

    val b = 2; val hq = 4; val hkv = 2; val lq = 5; val lk = 7; val d = 6
    val q = t(b, hq, lq, d); val k = t(b, hkv, lk, d); val v = t(b, hkv, lk, d)
    val plain = AttentionSpec.of(hq, hkv, d)

    "a maskMod j <= i + (lk - lq) equals causal bottom-right" {
        val causal = ReferenceAttention.attend(plain.toBuilder().causal().build(), AttentionInputs.of(q, k, v))
        val mod = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withMaskMod(MaskMod { _, _, i, j -> j <= i + (lk - lq) }))
        maxDiff(causal.out(), mod.out()) shouldBe 0.0
        maxDiff(causal.lse(), mod.lse()) shouldBe 0.0
    }

    "a scoreMod c*tanh(s/c) equals the spec's softcap" {
        val capped = ReferenceAttention.attend(plain.toBuilder().softcap(1.5).build(), AttentionInputs.of(q, k, v))
        val mod = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withScoreMod(ScoreMod { s, _, _, _, _ -> 1.5 * tanh(s / 1.5) }))
        maxDiff(capped.out(), mod.out()) shouldBe 0.0
    }

    "a scoreMod subtracting slope*|d_i - j| equals ALiBi, and it runs after the softcap like ALiBi" {
        val slopes = doubleArrayOf(0.5, 0.25, 0.125, 0.0625)
        val spec = plain.toBuilder().softcap(2.0).build()
        val alibi = ReferenceAttention.attend(spec, AttentionInputs.of(q, k, v).withAlibiSlopes(DoubleTensor.of(slopes, hq)))
        val mod = ReferenceAttention.attend(spec, AttentionInputs.of(q, k, v)
            .withScoreMod(ScoreMod { s, _, h, i, j -> s - slopes[h] * abs((i + lk - lq - j).toDouble()) }))
        maxDiff(alibi.out(), mod.out()) shouldBe 0.0
    }

    "mods compose with kv_lens: a row hidden by both stays empty (out 0, lse -inf)" {
        val out = ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withKvLens(3, 7)
            .withMaskMod(MaskMod { bb, _, i, j -> !(bb == 0 && i == 0) && j >= 0 }))
        for (h in 0 until hq) {
            out.lse().getDouble(0, h, 0) shouldBe Double.NEGATIVE_INFINITY
            for (c in 0 until d) out.out().getDouble(0, h, 0, c) shouldBe 0.0
        }
    }

    "the problem names both features" {
        val p = AttentionInputs.of(q, k, v).withScoreMod { s, _, _, _, _ -> s }.withMaskMod { _, _, _, _ -> true }.validate(plain)
        p.features().contains(Feature.SCORE_MOD) shouldBe true
        p.features().contains(Feature.MASK_MOD) shouldBe true
    }

    "a scoreMod returning NaN is an AttentionException naming where, never a NaN output" {
        val e = shouldThrow<AttentionException> {
            ReferenceAttention.attend(plain, AttentionInputs.of(q, k, v).withScoreMod { s, _, h, i, j -> if (h == 1 && i == 2 && j == 3) Double.NaN else s })
        }
        e.message!! shouldContain "scoreMod(b=0, h=1, i=2, j=3)"
    }
})
