package org.attn4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionException
import org.attn4j.dsl.check.Agreement
import org.attn4j.dsl.compare.BackendStatus
import org.attn4j.dsl.compare.CompareSettings
import org.attn4j.dsl.compare.Comparator
import org.attn4j.dsl.compare.Phase
import org.attn4j.dsl.compare.Timed
import kotlin.math.sqrt

/** The engine behind `attn compare`, on tiny shapes. */
class ComparisonTest : StringSpec({

    "MLA is timed as the naive path for prefill and the absorbed path for decode" {
        val v2 = Presets.deepSeekV2
        val (prefill, decode) = Comparator.shapes(v2, CompareSettings(prefillLen = 16, decodeKv = 40))
        prefill.phase shouldBe Phase.PREFILL
        // naive: every head has its own K of width nope + rope = 192 and V of width v = 128
        listOf(prefill.spec.qHeads(), prefill.spec.kvHeads(), prefill.spec.headDim(), prefill.spec.vHeadDim()) shouldBe listOf(128, 128, 192, 128)
        // absorbed: all 128 heads read one latent of c + r = 576 whose first c = 512 columns are the values
        listOf(decode.spec.qHeads(), decode.spec.kvHeads(), decode.spec.headDim(), decode.spec.vHeadDim()) shouldBe listOf(128, 1, 576, 512)
        decode.vIsKeyPrefix shouldBe true
        // both keep the model's scale 1/sqrt(nope + rope), not 1/sqrt(576)
        decode.spec.effectiveScale() shouldBe (1 / sqrt(192.0) plusOrMinus 1e-15)
        prefill.spec.effectiveScale() shouldBe (1 / sqrt(192.0) plusOrMinus 1e-15)
        listOf(decode.qLen, decode.kvLen) shouldBe listOf(1, 40)
    }

    "a comparison on the CPU backend times both phases and measures the error of every config" {
        val models = Presets.article()
        val r = Comparator.run(models, CompareSettings(prefillLen = 24, decodeKv = 50, reps = 1, backends = listOf("cpu"), errorLen = 9))
        r.backends shouldContain BackendStatus("cpu", true, null)
        r.rows.map { it.model } shouldBe models
        for (row in r.rows) {
            row.cost shouldBe row.model.cost
            row.prefill.single().shouldBeInstanceOf<Timed>().runs shouldBe 1
            val d = row.decode.single().shouldBeInstanceOf<Timed>()
            // decode: one query per call, so tokens/s is the inverse of the call time
            d.tokensPerSecond shouldBe (1000 / d.millis plusOrMinus 1e-6 * d.tokensPerSecond)
            val e = row.errors.single().shouldBeInstanceOf<Agreement>()
            e.withinTolerance shouldBe true
        }
        // KV at the default context 32768 through the article's one layer: MHA caches 2·8·32·2 B per token.
        r.rows[0].kvBytesAtContext shouldBe 1024L * 32768
    }

    "an unknown backend name is bad input" {
        shouldThrow<AttentionException> { Comparator.backendStatuses(CompareSettings(backends = listOf("nope"))) }
            .message shouldBe "backend: expected one of ${org.attn4j.api.Backends.all().map { it.name() }}, got 'nope'"
    }
})
