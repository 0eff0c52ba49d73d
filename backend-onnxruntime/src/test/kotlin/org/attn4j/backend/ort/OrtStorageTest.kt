package org.attn4j.backend.ort

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.PlanOptions

/** ORT declines the reduced storage types in supportStorage, and its plan refuses them instead of widening them. */
class OrtStorageTest : FunSpec({
    val backend = OrtBackend()
    test("reduced types are declined with a reason, float32 and float64 are not") {
        backend.supportStorage(DType.FLOAT32).isSupported shouldBe true
        backend.supportStorage(DType.FLOAT64).isSupported shouldBe true
        for (t in listOf(DType.FLOAT16, DType.BFLOAT16, DType.INT8)) backend.supportStorage(t).reasons().single() shouldContain t.name
    }
    test("a plan given reduced k or v throws an AttentionException naming the input") {
        val spec = AttentionSpec.of(2, 1, 4)
        val q = FloatTensor.of(FloatArray(2 * 3 * 4) { it * 0.1f }, 1, 2, 3, 4)
        val k = FloatTensor.of(FloatArray(5 * 4) { it * 0.05f }, 1, 1, 5, 4)
        backend.plan(AttentionProblem.of(spec, 1, 3, 5), PlanOptions.defaults()).use { plan ->
            shouldThrow<AttentionException> { plan.run(AttentionInputs.of(q, HalfTensor.round(DType.BFLOAT16, k), k)) }.message shouldContain "k.dtype"
            shouldThrow<AttentionException> { plan.run(AttentionInputs.of(q, k, Int8Tensor.quantize(k))) }.message shouldContain "v.dtype"
            plan.run(AttentionInputs.of(q, k, k)).out().shape().toList() shouldBe listOf(1, 2, 3, 4)
        }
    }
})
