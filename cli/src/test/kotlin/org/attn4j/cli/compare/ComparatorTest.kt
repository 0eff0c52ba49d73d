package org.attn4j.cli.compare

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionException
import org.attn4j.api.Backends
import org.attn4j.bench.Timing
import org.attn4j.cli.report.CompareTables
import org.attn4j.cli.report.HtmlReport
import org.attn4j.dsl.Presets
import kotlin.math.sqrt

private val quick = CompareSettings.defaults().withShapes(24, 50).withErrorLen(9)
    .withTiming(Timing.Steady(2, 0.0, 0.5, 0.2, 2, 0.0, 0.2), 5.0)

/** A decode speed measured by hand, for the ordering rules. */
private fun decodeMs(backend: String, ms: Double) = Speed.Timed(backend, ms, ms, ms, 5, 5, true, 1000 / ms, 1.0, 1.0, null)

/** The engine behind `attn compare`, on tiny shapes. */
class ComparatorTest : StringSpec({

    "MLA is timed as the naive path for prefill and the absorbed path for decode" {
        val (prefill, decode) = Comparator.shapes(Presets.deepSeekV2, quick.withShapes(16, 40))
        prefill.phase() shouldBe Phase.PREFILL
        // naive: every head has its own K of width nope + rope = 192 and V of width v = 128
        listOf(prefill.spec().qHeads(), prefill.spec().kvHeads(), prefill.spec().headDim(), prefill.spec().vHeadDim()) shouldBe listOf(128, 128, 192, 128)
        // absorbed: all 128 heads read one latent of c + r = 576 whose first c = 512 columns are the values
        listOf(decode.spec().qHeads(), decode.spec().kvHeads(), decode.spec().headDim(), decode.spec().vHeadDim()) shouldBe listOf(128, 1, 576, 512)
        decode.vIsKeyPrefix() shouldBe true
        // both keep the model's scale 1/sqrt(nope + rope), not 1/sqrt(576)
        decode.spec().effectiveScale() shouldBe (1 / sqrt(192.0) plusOrMinus 1e-15)
        prefill.spec().effectiveScale() shouldBe (1 / sqrt(192.0) plusOrMinus 1e-15)
        listOf(decode.qLen(), decode.kvLen()) shouldBe listOf(1, 40)
        // the bench formulas: a decode step reads the float32 latent, 4 B · 40 · 576; prefill FLOPs 2·128·16·16·(192+128)/2
        decode.workload().bytesRead() shouldBe 4.0 * 40 * 576
        prefill.workload().flops() shouldBe 2.0 * 128 * 16 * 16 * (192 + 128) / 2
    }

    "a comparison on the CPU backend times both phases and measures the error of every config" {
        val models = Presets.article()
        val r = Comparator.run(models, quick.withBackends(listOf("cpu")), CompareProgress.NONE, "t")
        r.backends() shouldContain BackendStatus("cpu", true, null)
        r.rows().map { it.model() } shouldBe models
        for (row in r.rows()) {
            row.cost() shouldBe row.model().cost
            val p = row.prefill().single().shouldBeInstanceOf<Speed.Timed>()
            (p.calls() >= 1) shouldBe true
            (p.minMillis() <= p.millis() && p.millis() <= p.maxMillis()) shouldBe true
            val d = row.decode().single().shouldBeInstanceOf<Speed.Timed>()
            // decode: one query per call, so tokens/s is the inverse of the call time
            d.tokensPerSecond() shouldBe (1000 / d.millis() plusOrMinus 1e-6 * d.tokensPerSecond())
            d.gbPerSecond()!! shouldBe (row.decodeBytesRead() / (d.millis() / 1000) / 1e9 plusOrMinus 1e-6 * d.gbPerSecond()!!)
            row.errors().single().shouldBeInstanceOf<ErrorCheck.Measured>().withinTolerance() shouldBe true
        }
        // KV at the default context 32768 through the article's one layer: MHA caches 2·8·32·2 B per token.
        r.rows()[0].kvBytesAtContext() shouldBe 1024L * 32768
    }

    "the error column catches a wrong backend: a kernel off by 1e-3 is outside FORMAT's tolerance" {
        val cpu = Backends.byName("cpu")
        val wrong = object : org.attn4j.api.AttentionBackend by cpu {
            override fun plan(problem: org.attn4j.api.AttentionProblem, options: org.attn4j.api.PlanOptions): org.attn4j.api.AttentionPlan {
                val inner = cpu.plan(problem, options)
                return object : org.attn4j.api.AttentionPlan by inner {
                    override fun run(inputs: org.attn4j.api.AttentionInputs): org.attn4j.api.AttentionOutput {
                        val o = inner.run(inputs)
                        val out = (o.out() as org.attn4j.api.FloatTensor).copy()
                        out.data()[0] += 1e-3f
                        return org.attn4j.api.AttentionOutput(out, o.lse())
                    }
                }
            }
        }
        val e = Comparator.error(Presets.article()[0], wrong, quick).shouldBeInstanceOf<ErrorCheck.Measured>()
        e.withinTolerance() shouldBe false
        e.maxAbsError() shouldBe (1e-3 plusOrMinus 1e-5)
        Comparator.error(Presets.article()[0], cpu, quick).shouldBeInstanceOf<ErrorCheck.Measured>().withinTolerance() shouldBe true
    }

    "a KV-dtype row is timed and measured in its storage: its error shows the rounding, its tolerance is the kernel's own" {
        val reference = org.attn4j.reference.ReferenceBackend()   // reads every storage type (doubleAtStorage)
        val gqa = Presets.article()[2]                           // GQA-4, hidden 256
        val int8 = gqa.withKvDtype(org.attn4j.api.DType.INT8, "GQA int8")
        val plain = Comparator.error(gqa, reference, quick).shouldBeInstanceOf<ErrorCheck.Measured>()
        plain.maxAbsError() shouldBe 0.0
        val e = Comparator.error(int8, reference, quick).shouldBeInstanceOf<ErrorCheck.Measured>()
        e.withinTolerance() shouldBe true                        // exact on the stored values ...
        (e.maxAbsError() > 1e-4) shouldBe true                   // ... but off the float values by the rounding
        e.maxAbsError() shouldBe (Comparator.storageRounding(int8, quick)!! plusOrMinus 1e-12)
        Comparator.storageRounding(gqa, quick) shouldBe null
        // cpu reads int8 in place: measured, within its float32 tolerance of the stored values
        val cpu = Backends.byName("cpu")
        Comparator.error(int8, cpu, quick).shouldBeInstanceOf<ErrorCheck.Measured>().withinTolerance() shouldBe true
        // A backend that does not declare the type (the SPI's default): not measured, not timed, with its reason.
        val declining = object : org.attn4j.api.AttentionBackend by cpu {
            override fun name() = "no-int8"
            override fun supportStorage(dtype: org.attn4j.api.DType) = org.attn4j.api.Support.no("$dtype: not read by no-int8")
        }
        Comparator.error(int8, declining, quick).shouldBeInstanceOf<ErrorCheck.NotMeasured>().reason() shouldContain "INT8"
        val decode = Comparator.shapes(int8, quick).last()
        Comparator.time(declining, decode, quick.timing(), 1, org.attn4j.api.DType.INT8).shouldBeInstanceOf<Speed.NotTimed>()
        Comparator.time(cpu, decode, quick.timing(), 1, org.attn4j.api.DType.INT8).shouldBeInstanceOf<Speed.Timed>()
        Comparator.time(reference, decode, quick.timing(), 1, org.attn4j.api.DType.INT8).shouldBeInstanceOf<Speed.Timed>()
        // int8 decode reads 1 byte per element and a 4-byte scale per row: 4 KV heads x 50 tokens x 2 rows x (32 + 4)
        Comparator.decodeBytesRead(decode, org.attn4j.api.DType.INT8) shouldBe 4.0 * 50 * 2 * (32 + 4)
        Comparator.decodeBytesRead(decode, null) shouldBe 4.0 * 4 * 50 * (32 + 32)
    }

    "a decode that reads >= 2x fewer bytes yet is slower is flagged, in the table, the notes and the report" {
        val models = Presets.representative(32768, 32) // MHA, MQA, GQA-8, MLA
        val shapes = models.map { Comparator.shapes(it, CompareSettings.defaults()) }
        // measured by hand: GQA-8 (4x fewer bytes than MHA) slower than MHA; MQA fastest; MLA between
        val ms = listOf(10.0, 1.0, 12.0, 5.0)
        val rows = models.indices.map { i ->
            VariantRow(models[i], models[i].cost, 0, shapes[i], listOf(), listOf(decodeMs("cpu", ms[i])), listOf())
        }
        val r = ComparisonResult("t", CompareSettings.defaults(), listOf(BackendStatus("cpu", true, null)), rows, "env", 1)
        DecodeFindings.speedUpOverMha(r, rows[2], "cpu")!! shouldBe (10.0 / 12.0 plusOrMinus 1e-12)
        DecodeFindings.speedUpOverMha(r, rows[1], "cpu")!! shouldBe (10.0 plusOrMinus 1e-12)
        val flags = DecodeFindings.contradictions(r)
        // GQA-8 reads 4x fewer bytes than MHA and is slower; MLA (latent 576 floats vs GQA-8's 8·256 per token: 3.6x
        // fewer) is faster than GQA-8, and slower only than MQA, which reads fewer bytes than it: nothing else to flag
        flags.map { it.fewerBytes() to it.moreBytes() } shouldBe listOf("GQA" to "MHA")
        flags[0].bytesRatio() shouldBe 4.0
        flags[0].message() shouldStartWith "FLAG: on cpu, GQA reads 4.0x fewer KV bytes per decode step than MHA but decoded slower (12.0 ms vs 10.0 ms)"
        DecodeFindings.flag(r, rows[2], "cpu") shouldBe "FLAG: slower than MHA (reads fewer bytes)"
        DecodeFindings.flag(r, rows[0], "cpu") shouldBe ""
        CompareTables.decode(r).render() shouldContain "FLAG: slower than MHA"
        CompareTables.flags(r) shouldBe listOf(flags[0].message())
        HtmlReport.render(r) shouldContain "<td class=\"flag\">FLAG: slower than MHA (reads fewer bytes)</td>"
    }

    "consistent decode orderings raise no flag" {
        val models = Presets.representative(32768, 32)
        val shapes = models.map { Comparator.shapes(it, CompareSettings.defaults()) }
        val ms = listOf(12.0, 0.5, 3.0, 2.0)
        val rows = models.indices.map { i -> VariantRow(models[i], models[i].cost, 0, shapes[i], listOf(), listOf(decodeMs("cpu", ms[i])), listOf()) }
        val r = ComparisonResult("t", CompareSettings.defaults(), listOf(BackendStatus("cpu", true, null)), rows, "env", 1)
        DecodeFindings.contradictions(r).shouldBeEmpty()
    }

    "a backend whose budget is spent times nothing more, and says so" {
        val r = Comparator.run(Presets.article(), quick.withBackends(listOf("cpu")).withTiming(quick.timing(), 1e-9),
            CompareProgress.NONE, "t")
        // decode runs first; by the last prefill the budget of a nanosecond is certainly spent
        val d = r.rows().last().prefill().single().shouldBeInstanceOf<Speed.NotTimed>()
        d.reason() shouldContain "cpu's time budget"
        CompareTables.notes(r).any { it.contains("not timed: cpu's time budget") } shouldBe true
    }

    "an unknown backend name is bad input" {
        shouldThrow<AttentionException> { Comparator.backendStatuses(quick.withBackends(listOf("nope"))) }
            .message shouldBe "backend: expected one of ${Backends.all().map { it.name() }}, got 'nope'"
    }
})
