package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith

private fun zeros(vararg shape: Int) = DoubleTensor.zeros(*shape)

class AttentionInputsTest : StringSpec({
    // B 2, 4 query heads over 2 KV heads, qLen 3, kvLen 5, headDim 8, vHeadDim 6
    val spec = AttentionSpec.builder(4, 2, 8).vHeadDim(6).build()
    fun good() = AttentionInputs.of(zeros(2, 4, 3, 8), zeros(2, 2, 5, 8), zeros(2, 2, 5, 6))
    fun argumentOf(inputs: AttentionInputs) = shouldThrow<AttentionException> { inputs.validate(spec) }.argument()

    "valid inputs give the problem they pose" {
        val all = good().withBias(zeros(3, 5)).withMask(BoolTensor.of(BooleanArray(5) { true }, 5))
            .withAlibiSlopes(zeros(4)).withSinks(FloatTensor.zeros(4)).withKvLens(5, 0)
            .withScoreMod { s, _, _, _, _ -> s }.withMaskMod { _, _, _, _ -> true }
        val p = all.validate(spec)
        p shouldBe AttentionProblem.of(spec, 2, 3, 5, *OptionalInput.entries.toTypedArray())
        good().validate(spec).inputs() shouldBe emptySet()
        // empty sequences are legal
        AttentionInputs.of(zeros(1, 4, 0, 8), zeros(1, 2, 0, 8), zeros(1, 2, 0, 6)).validate(spec).qLen() shouldBe 0
    }

    "wrong shapes are named" {
        argumentOf(AttentionInputs.of(zeros(2, 4, 3), zeros(2, 2, 5, 8), zeros(2, 2, 5, 6))) shouldBe "q.rank"
        argumentOf(AttentionInputs.of(zeros(2, 4, 3, 7), zeros(2, 2, 5, 8), zeros(2, 2, 5, 6))) shouldBe "q.shape"
        argumentOf(AttentionInputs.of(zeros(2, 4, 3, 8), zeros(2, 4, 5, 8), zeros(2, 2, 5, 6))) shouldBe "k.shape"
        argumentOf(AttentionInputs.of(zeros(2, 4, 3, 8), zeros(1, 2, 5, 8), zeros(2, 2, 5, 6))) shouldBe "k.shape"
        argumentOf(AttentionInputs.of(zeros(2, 4, 3, 8), zeros(2, 2, 5, 8), zeros(2, 2, 4, 6))) shouldBe "v.shape"
        argumentOf(AttentionInputs.of(zeros(2, 4, 3, 8), zeros(2, 2, 5, 8), zeros(2, 2, 5, 8))) shouldBe "v.shape"
        argumentOf(AttentionInputs.of(zeros(0, 4, 3, 8), zeros(0, 2, 5, 8), zeros(0, 2, 5, 6))) shouldBe "q.shape[0]"
        argumentOf(good().withBias(zeros(3, 4))) shouldBe "bias.shape"
        argumentOf(good().withMask(BoolTensor.of(BooleanArray(6), 2, 3))) shouldBe "mask.shape"
        argumentOf(good().withAlibiSlopes(zeros(2))) shouldBe "alibiSlopes.shape"
        argumentOf(good().withSinks(zeros(1, 4))) shouldBe "sinks.shape"
        argumentOf(good().withKvLens(5)) shouldBe "kvLens.shape"
        shouldThrow<AttentionException> { good().withBias(zeros(3, 4)).validate(spec) }.message shouldBe
            "bias.shape: expected broadcastable to [2, 4, 3, 5], got [3, 4]"
        shouldThrow<AttentionException> { AttentionInputs.of(null, zeros(2, 2, 5, 8), zeros(2, 2, 5, 6)).validate(spec) }
            .argument() shouldBe "q"
    }

    "dtypes and values are checked" {
        argumentOf(AttentionInputs.of(IntTensor.of(IntArray(96), 2, 4, 3, 4), zeros(2, 2, 5, 8), zeros(2, 2, 5, 6))) shouldBe
            "q.dtype"
        argumentOf(good().withKvLens(5, 6)) shouldBe "kvLens[1]"
        argumentOf(good().withKvLens(-1, 0)) shouldBe "kvLens[0]"
        shouldThrow<AttentionException> { good().withKvLens(5, 6).validate(spec) }.message shouldBe
            "kvLens[1]: expected in [0, 5], got 6"
        val nanQ = zeros(2, 4, 3, 8).also { it.set(Double.NaN, 1, 2, 0, 7) }
        shouldThrow<AttentionException> { AttentionInputs.of(nanQ, zeros(2, 2, 5, 8), zeros(2, 2, 5, 6)).validate(spec) }
            .message shouldBe "q[1, 2, 0, 7]: expected a finite value, got NaN"
        val infV = zeros(2, 2, 5, 6).also { it.set(Double.NEGATIVE_INFINITY, 0, 0, 0, 0) }
        shouldThrow<AttentionException> { AttentionInputs.of(zeros(2, 4, 3, 8), zeros(2, 2, 5, 8), infV).validate(spec) }
            .message!! shouldStartWith "v[0, 0, 0, 0]"
        argumentOf(good().withBias(DoubleTensor.of(doubleArrayOf(Double.POSITIVE_INFINITY), 1))) shouldBe "bias[0]"
        argumentOf(good().withSinks(DoubleTensor.of(doubleArrayOf(0.0, 0.0, Double.NaN, 0.0), 4))) shouldBe "sinks[2]"
        argumentOf(good().withAlibiSlopes(IntTensor.of(IntArray(4), 4))) shouldBe "alibiSlopes.dtype"
    }
})
