package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.RandomSource
import org.attn4j.api.Alignment
import org.attn4j.api.Tensor
import org.attn4j.api.Window

/** The generators cover what the TCK promises, stay under the cost cap, replay from a seed, and really shrink. */
class GeneratorsTest : FunSpec({
    val maxCost = TckConfig.DEFAULT_MAX_COST

    fun sample(profile: Map<KernelGene, Domain>, n: Int, seed: Long = 1): List<KernelCase> {
        val rs = RandomSource.seeded(seed)
        val arb = KernelGenes.arb(profile, maxCost)
        return List(n) { arb.sample(rs).value }
    }

    test("every generated case is valid and within the cost cap") {
        for (c in sample(KernelGenes.everything(0.5), 3000)) {
            c.problem                                           // validates shapes, dtypes, kv_lens, finiteness
            (c.cost <= maxCost) shouldBe true
        }
    }

    test("the everything profile covers sizes, head pairs, options and every broadcast shape") {
        val cases = sample(KernelGenes.everything(0.3), 4000, seed = 7)
        val missing = ArrayList<String>()
        fun need(what: String, ok: Boolean) { if (!ok) missing += what }
        for (l in intArrayOf(0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65)) {
            need("qLen $l", cases.any { it.qLen == l })
            need("kvLen $l", cases.any { it.kvLen == l })
        }
        need("a long kv sequence (>= 1000)", cases.any { it.kvLen >= 1000 })
        for ((q, kv) in KernelGenes.HEAD_PAIRS) need("heads $q/$kv", cases.any { it.qHeads == q && it.kvHeads == kv })
        for (d in intArrayOf(1, 7, 13, 31, 127, 251, 255, 256)) need("headDim $d", cases.any { it.headDim == d })
        need("v_head_dim != head_dim", cases.any { it.vHeadDim != it.headDim })
        need("custom scale", cases.any { it.scale != null })
        need("causal bottom-right", cases.any { it.causal && it.alignment == Alignment.BOTTOM_RIGHT && it.qLen != it.kvLen })
        need("causal top-left", cases.any { it.causal && it.alignment == Alignment.TOP_LEFT })
        need("window left only", cases.any { it.window.left() >= 0 && it.window.right() < 0 })
        need("window right only", cases.any { it.window.left() < 0 && it.window.right() >= 0 })
        need("window both sides", cases.any { it.window.left() >= 0 && it.window.right() >= 0 })
        need("softcap", cases.any { it.softcap > 0 })
        for (b in Broadcast.ALL) {
            need("bias $b", cases.any { it.bias == b })
            need("mask $b", cases.any { it.mask == b })
        }
        need("alibi", cases.any { it.alibi })
        need("sinks", cases.any { it.sinks })
        need("kv_lens with a 0", cases.any { c -> c.kvLens != KvLensMode.NONE && c.batch > 1 && c.inputs.kvLens()!!.toIntArray().any { it == 0 } })
        need("kv_lens full", cases.any { it.kvLens == KvLensMode.FULL })
        need("scores ~1e4", cases.any { it.scoreMagnitude == 1e4 })
        need("scores ~1e-3", cases.any { it.scoreMagnitude == 1e-3 })
        need("an all-false mask", cases.any { it.mask != null && it.maskFill == MaskFill.ALL_FALSE })
        for (l in Layout.entries) need("layout $l", cases.any { it.layout == l })
        missing.shouldBeEmpty()
    }

    test("misaligned int8 views: K's rows start off the scale rows, V's rows are Dv + 1 apart, and the values are the bytes times their buffer row's scale") {
        val c = BoundaryChecks.case(seed = 3, lq = 2, lk = 5, hq = 2, hkv = 1, d = 8, dv = 6, kvDtype = org.attn4j.api.DType.INT8,
            layout = Layout.MISALIGNED)
        val k = c.inputs.k() as org.attn4j.api.Int8Tensor
        val v = c.inputs.v() as org.attn4j.api.Int8Tensor
        (k.offset() % k.rowPitch() + 8 > k.rowPitch()) shouldBe true     // every K row spans two scale rows
        (v.stride(2) % v.rowPitch() != 0) shouldBe true                   // V's row stride is not a multiple of the pitch
        val scales = (0 until 5).map { k.scaleAtStorage(k.offset() + it * 8) } + (0 until 5).map { k.scaleAtStorage(k.offset() + it * 8 + 7) }
        (scales.toSet().size > 1) shouldBe true                           // the scales differ, so one scale per row is wrong
        for (j in 0 until 5) for (e in 0 until 8) {
            val at = k.offset() + j * 8 + e
            k.getDouble(0, 0, j, e) shouldBe k.data()[at] * k.scaleAtStorage(at).toDouble()
        }
    }

    test("Broadcast.ALL lists the 30 NumPy broadcast patterns of rank 1..4, each broadcastable to [B, H, Lq, Lk]") {
        Broadcast.ALL.map { it.axes }.toSet().size shouldBe 30
        for (b in Broadcast.ALL) {
            Tensor.broadcastable(b.shape(2, 3, 5, 7), intArrayOf(2, 3, 5, 7)) shouldBe true
        }
        Broadcast("H1K").shape(2, 3, 5, 7).toList() shouldBe listOf(3, 1, 7)
    }

    test("a seed replays the same cases; another seed gives others") {
        val profile = KernelGenes.everything()
        sample(profile, 50, seed = 42) shouldBe sample(profile, 50, seed = 42)
        (sample(profile, 50, seed = 42) == sample(profile, 50, seed = 43)) shouldBe false
    }

    test("shrinking reaches the smallest failing case: B=1, one KV head, q_len 1, head_dim 1, no unrelated option") {
        // A property that fails for every causal case with at least 2 keys: the smallest such case is known by hand.
        val config = TckConfig(seed = 5, iterations = 200)
        val result = PropertyRunner.run("shrink-demo", KernelGenes.arb(KernelGenes.everything(0.5), maxCost), config, 200) { c ->
            if (c.causal && c.kvLen >= 2) CaseOutcome.Bad("causal with ${c.kvLen} keys") else CaseOutcome.Ok()
        }
        result.shouldBeInstanceOf<CheckResult.Failed>()
        val expected = KernelCase(1, 1, 1, 1, 1, 1, 2, null, true, Alignment.BOTTOM_RIGHT, Window.NONE, 0.0, null, 1.0, null,
            MaskFill.DENSE, false, false, KvLensMode.NONE, 1.0, 1.0, Layout.CONTIGUOUS, 0)
        result.shrunk shouldBe expected.toString()
        result.message shouldBe "causal with 2 keys"
    }

    test("layer generators give valid configs and weights") {
        val rs = RandomSource.seeded(3)
        val std = StandardLayerCase.arb(mapOf(StandardLayerGene.CROSS to KernelGenes.sometimes(2, 0.5), StandardLayerGene.KEY_PAD to KernelGenes.sometimes(2, 0.5)))
        repeat(300) {
            val c = std.sample(rs).value
            c.weights.validate(c.config)
            c.activations.chunks.sum() shouldBe c.qLen
        }
        val mla = MlaLayerCase.arb(emptyMap())
        val seen = HashSet<String>()
        repeat(300) {
            val c = mla.sample(rs).value
            c.weights.validate(c.config)
            c.activations.chunks.sum() shouldBe c.len
            seen += "interleaved=${c.ropeInterleaved}"
            seen += "qLora=${c.qLoraRank > 0}"
            seen += "path=${c.path}"
        }
        seen shouldBe setOf("interleaved=true", "interleaved=false", "qLora=true", "qLora=false", "path=NAIVE", "path=ABSORBED")
    }
})
