package org.attn4j.reference

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.mla.ReferenceMlaLayer
import java.util.OptionalDouble
import java.util.Random
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.ln
import kotlin.math.max
import kotlin.math.sqrt

/**
 * The float32 oracle sizes every float32 tolerance (the TCK's and the kernels' tests'): a wrong Naive32 would make
 * them loose or wrong. It is checked by hand and against the float64 reference (never against itself), on random
 * cases that use every option of FORMAT.md.
 */
class Naive32Test : FunSpec({
    test("hand-worked: one query over two keys") {
        // q = [1, 0], k0 = [1, 0], k1 = [0, 1], scale = 1/sqrt(2): scores [1/sqrt(2), 0].
        // p0 = e^s0 / (e^s0 + 1); out = p0 [1, 2] + (1 - p0) [3, 4]; lse = ln(e^s0 + 1). Worked out here in double.
        val s0 = 1 / sqrt(2.0)
        val p0 = exp(s0) / (exp(s0) + 1)
        val o = Naive32.attend(AttentionSpec.of(1, 1, 2), AttentionInputs.of(
            FloatTensor.of(floatArrayOf(1f, 0f), 1, 1, 1, 2),
            FloatTensor.of(floatArrayOf(1f, 0f, 0f, 1f), 1, 1, 2, 2),
            FloatTensor.of(floatArrayOf(1f, 2f, 3f, 4f), 1, 1, 2, 2)))
        o.out().dtype() shouldBe DType.FLOAT32
        o.lse().dtype() shouldBe DType.FLOAT32
        o.out().getDouble(0, 0, 0, 0) shouldBe (p0 * 1 + (1 - p0) * 3 plusOrMinus 1e-6)
        o.out().getDouble(0, 0, 0, 1) shouldBe (p0 * 2 + (1 - p0) * 4 plusOrMinus 1e-6)
        o.lse().getDouble(0, 0, 0) shouldBe (ln(exp(s0) + 1) plusOrMinus 1e-6)
    }

    test("hand-worked: a row that sees no key gives 0 and lse -inf, or the sink") {
        val spec = AttentionSpec.builder(1, 1, 1).causal().alignment(Alignment.TOP_LEFT).build()
        // Lq = 1, Lk = 0: nothing to see.
        val none = AttentionInputs.of(FloatTensor.of(floatArrayOf(1f), 1, 1, 1, 1), FloatTensor.zeros(1, 1, 0, 1), FloatTensor.zeros(1, 1, 0, 1))
        Naive32.attend(spec, none).out().getDouble(0, 0, 0, 0) shouldBe 0.0
        Naive32.attend(spec, none).lse().getDouble(0, 0, 0) shouldBe Double.NEGATIVE_INFINITY
        Naive32.attend(spec, none.withSinks(FloatTensor.of(floatArrayOf(0.5f), 1))).lse().getDouble(0, 0, 0) shouldBe 0.5
    }

    test("stays within float32 error of the float64 reference on random cases with every option") {
        val rnd = Random(11)
        var worstOut = 0.0
        repeat(400) { n ->
            val (spec, inputs) = randomCase(rnd)
            val ref = ReferenceAttention.attend(spec, inputs)
            val naive = Naive32.attend(spec, inputs)
            withClue("case $n: $spec") {
                worstOut = max(worstOut, closeTo(naive.out(), ref.out(), 1e-4, "out"))
                closeTo(naive.lse(), ref.lse(), 1e-4, "lse")
            }
        }
        // The oracle really rounds to float32 (a float64 evaluation in disguise would calibrate nothing)...
        worstOut shouldBeGreaterThan 1e-9
        // ... and only by a few float32 ulps.
        worstOut shouldBeLessThan 1e-5
    }

    test("scoreMod and maskMod are applied as the reference applies them; a non-finite scoreMod result is refused") {
        val rnd = Random(5)
        val spec = AttentionSpec.builder(4, 2, 8).causal().build()
        val inputs = AttentionInputs.of(randn(rnd, 2, 4, 5, 8), randn(rnd, 2, 2, 7, 8), randn(rnd, 2, 2, 7, 8))
            .withScoreMod { s, b, h, i, j -> 0.5 * s + 0.1 * (b + h) - 0.05 * (i - j) }
            .withMaskMod { _, h, _, j -> (j + h) % 3 != 0 }
        val ref = ReferenceAttention.attend(spec, inputs)
        val naive = Naive32.attend(spec, inputs)
        closeTo(naive.out(), ref.out(), 1e-5, "out")
        closeTo(naive.lse(), ref.lse(), 1e-5, "lse")
        val bad = inputs.withScoreMod { s, _, h, _, j -> if (h == 1 && j == 0) Double.NaN else s }
        shouldThrow<AttentionException> { Naive32.attend(spec, bad) }.message!! shouldContain "scoreMod(b=0, h=1, i="
    }

    test("layers stay within float32 error of the float64 reference layers (MHA/MQA/GQA and MLA)") {
        val rnd = Random(12)
        repeat(60) { n ->
            val c = randomStandardConfig(rnd)
            val w = standardWeights(rnd, c)
            val b = 1 + rnd.nextInt(2)
            val lq = rnd.nextInt(7)
            val cross = rnd.nextBoolean()
            val lk = if (cross) rnd.nextInt(8) else lq
            val x = randn(rnd, b, lq, c.hidden())
            val kvX = if (cross) randn(rnd, b, lk, c.hidden()) else null
            val pad = if (rnd.nextBoolean()) randomMask(rnd, b, lk) else null
            val ref = ReferenceStandardLayer(c, w).forward(x, kvX, pad)
            withClue("standard case $n: $c cross=$cross") {
                closeTo(Naive32.standardLayer(c, w, x, kvX, pad), ref, 1e-3, "y")
            }
        }
        repeat(60) { n ->
            val c = randomMlaConfig(rnd)
            val w = org.attn4j.reference.mla.randomWeights(c, rnd.nextLong())
            val b = 1 + rnd.nextInt(2)
            val len = rnd.nextInt(7)
            val x = randn(rnd, b, len, c.hidden())
            val pad = if (rnd.nextBoolean()) randomMask(rnd, b, len) else null
            val ref = ReferenceMlaLayer(c, w, PlanOptions(1, true, PlanOptions.MlaPath.NAIVE)).forward(x, null, pad)
            withClue("MLA case $n: $c") {
                closeTo(Naive32.mlaLayer(c, w, x, pad), ref, 1e-3, "y")
            }
        }
    }

    test("bad arguments are AttentionExceptions naming the argument") {
        val q = FloatTensor.zeros(1, 2, 3, 4)
        val kv = FloatTensor.zeros(1, 2, 5, 4)
        shouldThrow<AttentionException> { Naive32.attend(null, AttentionInputs.of(q, kv, kv)) }.message!! shouldContain "spec"
        shouldThrow<AttentionException> { Naive32.attend(AttentionSpec.of(2, 2, 4), null) }.message!! shouldContain "inputs"
        shouldThrow<AttentionException> { Naive32.attend(AttentionSpec.of(2, 2, 8), AttentionInputs.of(q, kv, kv)) }
            .message!! shouldContain "q"
        val c = StandardLayerConfig(LayerVariant.MHA, 8, 2, 2, 4, false, false, Alignment.BOTTOM_RIGHT, Window.NONE, 0.0,
            OptionalDouble.empty())
        val w = standardWeights(Random(1), c)
        shouldThrow<AttentionException> { Naive32.standardLayer(c, w, FloatTensor.zeros(1, 3, 7), null, null) }.message!! shouldContain "x"
        shouldThrow<AttentionException> {
            Naive32.standardLayer(c, w, FloatTensor.zeros(1, 3, 8), null, BoolTensor.of(BooleanArray(2), 1, 2))
        }.message!! shouldContain "keyPaddingMask"
    }
})

private fun randn(rnd: Random, vararg shape: Int, scale: Double = 1.0): FloatTensor =
    FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { (rnd.nextGaussian() * scale).toFloat() }, *shape)

/** Mostly true, so that rows keep some keys; sometimes a row or a whole sequence is masked out. */
private fun randomMask(rnd: Random, vararg shape: Int): BoolTensor =
    BoolTensor.of(BooleanArray(Tensor.elementCount(*shape)) { rnd.nextDouble() < 0.75 }, *shape)

/** A broadcastable shape for a bias or mask of scores `[b, hq, lq, lk]` (NumPy rules: aligned on the right). */
private fun broadcastShape(rnd: Random, b: Int, hq: Int, lq: Int, lk: Int): IntArray = when (rnd.nextInt(5)) {
    0 -> intArrayOf(b, hq, lq, lk)
    1 -> intArrayOf(lq, lk)
    2 -> intArrayOf(b, 1, 1, lk)
    3 -> intArrayOf(hq, 1, 1)
    else -> intArrayOf(lk)
}

private val HEAD_PAIRS = listOf(1 to 1, 4 to 4, 4 to 1, 6 to 2, 6 to 3, 8 to 4)
private val HEAD_DIMS = listOf(1, 3, 8, 17)

/** One random attention case; every option of FORMAT.md is on in about a third of the cases. */
private fun randomCase(rnd: Random): Pair<AttentionSpec, AttentionInputs> {
    fun sometimes() = rnd.nextDouble() < 0.35
    val b = 1 + rnd.nextInt(3)
    val (hq, hkv) = HEAD_PAIRS[rnd.nextInt(HEAD_PAIRS.size)]
    val d = HEAD_DIMS[rnd.nextInt(HEAD_DIMS.size)]
    val dv = if (sometimes()) HEAD_DIMS[rnd.nextInt(HEAD_DIMS.size)] else d
    val lq = rnd.nextInt(10)
    val lk = rnd.nextInt(13)
    val spec = AttentionSpec.builder(hq, hkv, d).vHeadDim(dv)
        .causal(sometimes())
        .alignment(if (rnd.nextBoolean()) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT)
        .apply { if (sometimes()) scale(0.05 + rnd.nextDouble()) }
        .apply {
            if (sometimes()) when (rnd.nextInt(3)) {
                0 -> window(rnd.nextInt(4), -1)
                1 -> window(-1, rnd.nextInt(4))
                else -> window(rnd.nextInt(4), rnd.nextInt(4))
            }
        }
        .apply { if (sometimes()) softcap(1.0 + 4 * rnd.nextDouble()) }
        .build()
    // q is sometimes a strided view ([B, L, H, D] permuted) and sometimes float64, as callers may pass them.
    val q: Tensor = when {
        sometimes() -> randn(rnd, b, lq, hq, d).permute(0, 2, 1, 3)
        sometimes() -> DoubleTensor.copyOf(randn(rnd, b, hq, lq, d))
        else -> randn(rnd, b, hq, lq, d)
    }
    var inputs = AttentionInputs.of(q, randn(rnd, b, hkv, lk, d), randn(rnd, b, hkv, lk, dv))
    if (sometimes()) inputs = inputs.withBias(randn(rnd, *broadcastShape(rnd, b, hq, lq, lk)))
    if (sometimes()) inputs = inputs.withMask(randomMask(rnd, *broadcastShape(rnd, b, hq, lq, lk)))
    if (sometimes()) inputs = inputs.withAlibiSlopes(FloatTensor.of(FloatArray(hq) { 0.5f / (it + 1) }, hq))
    if (sometimes()) inputs = inputs.withSinks(randn(rnd, hq))
    if (sometimes()) inputs = inputs.withKvLens(*IntArray(b) { rnd.nextInt(lk + 1) })
    return spec to inputs
}

private fun randomStandardConfig(rnd: Random): StandardLayerConfig {
    val (hq, hkv) = listOf(2 to 2, 4 to 1, 6 to 2)[rnd.nextInt(3)]
    val variant = when {
        hq == hkv -> LayerVariant.MHA
        hkv == 1 -> LayerVariant.MQA
        else -> LayerVariant.GQA
    }
    val window = if (rnd.nextInt(4) == 0) Window(rnd.nextInt(3), rnd.nextInt(3)) else Window.NONE
    return StandardLayerConfig(variant, listOf(8, 13)[rnd.nextInt(2)], hq, hkv, listOf(3, 4)[rnd.nextInt(2)], rnd.nextBoolean(),
        rnd.nextBoolean(), if (rnd.nextBoolean()) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT, window,
        if (rnd.nextInt(4) == 0) 3.0 else 0.0, OptionalDouble.empty())
}

private fun standardWeights(rnd: Random, c: StandardLayerConfig): StandardLayerWeights {
    val q = c.qHeads() * c.headDim()
    val kv = c.kvHeads() * c.headDim()
    fun w(out: Int, inp: Int) = randn(rnd, out, inp, scale = 1.0 / sqrt(inp.toDouble()))
    fun bias(n: Int) = if (c.bias()) randn(rnd, n, scale = 0.5) else null
    return StandardLayerWeights(w(q, c.hidden()), bias(q), w(kv, c.hidden()), bias(kv), w(kv, c.hidden()), bias(kv),
        w(c.hidden(), q), bias(c.hidden()))
}

private fun randomMlaConfig(rnd: Random): MlaLayerConfig {
    val rope = listOf(0, 2, 4)[rnd.nextInt(3)]
    return MlaLayerConfig(12, 1 + rnd.nextInt(3), listOf(0, 5)[rnd.nextInt(2)], listOf(3, 6)[rnd.nextInt(2)], 2 + rnd.nextInt(3),
        rope, 3 + rnd.nextInt(3), listOf(50.0, 10000.0)[rnd.nextInt(2)], rnd.nextBoolean(), 1e-6, listOf(0, 7)[rnd.nextInt(2)],
        rnd.nextBoolean(), if (rnd.nextInt(3) == 0) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT,
        if (rnd.nextInt(4) == 0) 3.0 else 0.0, OptionalDouble.empty())
}

/**
 * Checks |got - ref| <= rtol (1 + max|ref|) element-wise (infinities must be equal) and returns the largest
 * finite difference.
 */
private fun closeTo(got: Tensor, ref: Tensor, rtol: Double, name: String): Double {
    got.shape().toList() shouldBe ref.shape().toList()
    val g = got.toDoubleArray()
    val r = ref.toDoubleArray()
    val allowed = rtol * (1 + (r.filter { it.isFinite() }.maxOfOrNull { abs(it) } ?: 0.0))
    var worst = 0.0
    for (i in r.indices) {
        if (r[i].isInfinite() || g[i].isInfinite()) {
            withClue("$name[$i]") { g[i] shouldBe r[i] }
            continue
        }
        val e = abs(g[i] - r[i])
        if (!(e <= allowed)) error("$name[$i]: naive32 ${g[i]} vs ref64 ${r[i]} (allowed $allowed)")
        worst = max(worst, e)
    }
    return worst
}
