package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.RandomSource
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.KvCache
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Support
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceBackend

/** The reduced-storage checks pass on the reference, decline honestly, and catch storage bugs. */
class StorageChecksTest : FunSpec({
    val names = listOf("layer/reduced-kv-cache", "layer/mla-reduced-kv-cache", "meta/reduced-storage-equals-float32",
        "kernel/decode-reduced-contiguous-cache", "kernel/decode-reduced-paged-cache")
    val config = TckConfig.builder().iterations(30).checks(names).reportFile(null).build()

    test("the dtype genes are fixed to float32 unless a profile frees them, and free they cover every storage type") {
        val rs = RandomSource.seeded(7)
        val plain = KernelGenes.arb(KernelGenes.everything(), config.maxCost).samples(rs).take(200).map { it.value }.toList()
        plain.all { it.kvDtype == DType.FLOAT32 && it.qDtype == DType.FLOAT32 } shouldBe true
        val profile = mapOf(KernelGene.KV_DTYPE to GenePool.indices(4), KernelGene.Q_DTYPE to GenePool.indices(3))
        val free = KernelGenes.arb(profile, config.maxCost).samples(rs).take(200).map { it.value }.toList()
        free.map { it.kvDtype }.toSet() shouldBe KernelGenes.KV_STORAGE.toSet()
        free.map { it.qDtype }.toSet() shouldBe KernelGenes.Q_STORAGE.toSet()
        val int8 = free.first { it.kvDtype == DType.INT8 && it.kvLen > 0 }
        int8.inputs.k().shouldBeInstanceOf<Int8Tensor>()
        int8.toString() shouldContain "k/v=INT8"
        // The float32 twin holds the stored values: int8 as q * scale rounded to float32 once.
        int8.float32Inputs.k().toFloatArray().toList() shouldBe int8.inputs.k().toDoubleArray().map { it.toFloat() }
    }

    test("a Fixed gene draws no random number, so adding one leaves the other genes' draws alone") {
        val a = GenePool(listOf(KernelGene.DATA), listOf(Domain.Range(1000)))
        val b = GenePool(listOf(KernelGene.DATA, KernelGene.KV_DTYPE), listOf(Domain.Range(1000), Domain.Fixed(0)))
        val ra = RandomSource.seeded(3)
        val rb = RandomSource.seeded(3)
        val xa = a.arb().samples(ra).take(20).map { it.value.values[0] }.toList()
        val xb = b.arb().samples(rb).take(20).map { it.value.values[0] }.toList()
        xb shouldBe xa
    }

    test("the reference passes every reduced-storage check, and the layer tolerance is written into the report") {
        val report = AttentionTck.run(ReferenceBackend(), config, record = false)
        report.results.map { it.check } shouldContainAll names
        report.failures shouldBe emptyList()
        report.skipped shouldBe emptyList()
        val notes = report.results.filterIsInstance<CheckResult.Passed>().first { it.check == "layer/reduced-kv-cache" }.notes
        notes.any { it.contains("BFLOAT16 cache") && it.contains("2^-8") } shouldBe true
        notes.any { it.contains("INT8 cache") && it.contains("/ 254") } shouldBe true
    }

    test("a backend that does not declare the reduced types gets every reduced case declined with its reason") {
        val report = AttentionTck.run(Declining(), config, record = false)
        report.skipped.map { it.check }.toSet() shouldBe names.toSet()
        report.skipped.flatMap { it.reasons.keys }.all { it.contains("not read by 'declining'") } shouldBe true
    }

    test("reading int8 rows with the first row's scale fails the storage check and the decode checks") {
        val report = AttentionTck.run(FirstScaleOnly(), config.toBuilder().iterations(80).checks("meta/reduced-storage", "decode-reduced").build(), record = false)
        report.failures.map { it.check }.toSet() shouldBe setOf("meta/reduced-storage-equals-float32", "kernel/decode-reduced-contiguous-cache",
            "kernel/decode-reduced-paged-cache")
        report.failures.first().shrunk shouldContain "k/v=INT8"
    }

    test("a layer that keeps its cache at 5 significant bits (coarser than bfloat16) fails the reduced-cache layer checks on its stored elements") {
        val report = AttentionTck.run(WrappedLayerCache("coarse-cache", ::Coarse), config.toBuilder().iterations(80).checks("reduced-kv-cache").build(), record = false)
        report.failures.map { it.check }.toSet() shouldBe setOf("layer/reduced-kv-cache", "layer/mla-reduced-kv-cache")
        report.failures.forEach { it.message shouldContain "rounding apart" }
    }

    test("a layer that reads its stored keys 2^-12 off (inside the storage bound) fails the judgement over its own stored values") {
        val report = AttentionTck.run(WrappedLayerCache("slight-misread", ::Misread), config.toBuilder().iterations(30).checks("layer/reduced-kv-cache").build(), record = false)
        report.failures.map { it.check } shouldBe listOf("layer/reduced-kv-cache")
        report.failures.first().message shouldContain "over the backend's own stored values"
    }
})

/** The reference, but declining the reduced types (as a backend written before them does). */
private class Declining(private val ref: ReferenceBackend = ReferenceBackend()) : AttentionBackend by ref {
    override fun name(): String = "declining"
    override fun supportStorage(dtype: DType): Support =
        if (dtype.isReduced()) Support.no("$dtype: not read by 'declining'") else ref.supportStorage(dtype)
}

/** The reference, but int8 K/V are read with the scale of their first row for every row (a real indexing slip). */
private class FirstScaleOnly(private val ref: ReferenceBackend = ReferenceBackend()) : AttentionBackend by ref {
    // Kotlin's `by` does not forward Java default methods: say it, like the reference, reads every type.
    override fun supportStorage(dtype: DType): Support = ref.supportStorage(dtype)
    override fun name(): String = "int8-first-scale-only"

    override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
        val inner = ref.plan(problem, options)
        return object : AttentionPlan by inner {
            override fun run(inputs: AttentionInputs): AttentionOutput =
                inner.run(AttentionInputs(inputs.q(), misread(inputs.k()), misread(inputs.v()), inputs.bias(), inputs.mask(),
                    inputs.alibiSlopes(), inputs.sinks(), inputs.kvLens()))

            override fun decode(q: Tensor, cache: KvCache): AttentionOutput = run(cache.gather(q))
        }
    }

    private fun misread(t: Tensor): Tensor {
        if (t !is Int8Tensor || t.scales().isEmpty()) return t
        val s = t.scales()[0].toDouble()
        val c = t.copy()   // contiguous, row-major
        return DoubleTensor.of(DoubleArray(c.elementCount()) { c.data()[it] * s }, *t.shape())
    }
}

/** The reference, but every reduced layer cache it makes is wrapped by [wrap] (a storage bug planted in the cache). */
private class WrappedLayerCache(private val name: String, private val wrap: (KvCache) -> KvCache,
                                private val ref: ReferenceBackend = ReferenceBackend()) : AttentionBackend by ref {
    // Kotlin's `by` does not forward Java default methods: say it, like the reference, reads every type.
    override fun supportStorage(dtype: DType): Support = ref.supportStorage(dtype)
    override fun name(): String = name

    override fun planLayer(config: LayerConfig, weights: LayerWeights, options: PlanOptions): LayerPlan {
        val inner = ref.planLayer(config, weights, options)
        return object : LayerPlan by inner {
            override fun newCache(batch: Int, maxLength: Int, storage: DType): KvCache = wrap(inner.newCache(batch, maxLength, storage))
        }
    }
}

/** A reduced layer cache that rounds what is appended to 5 significant bits first. */
private class Coarse(private val cache: KvCache) : KvCache by cache {
    override fun append(k: Tensor, v: Tensor?) = cache.append(coarse(k), v?.let(::coarse))
    override fun append(sequence: Int, k: Tensor, v: Tensor?) = cache.append(sequence, coarse(k), v?.let(::coarse))

    private fun coarse(t: Tensor): Tensor = DoubleTensor.of(t.toDoubleArray().map {
        if (it == 0.0) 0.0 else { val e = Math.getExponent(it) - 4; Math.scalb(Math.rint(Math.scalb(it, -e)), e) }
    }.toDoubleArray(), *t.shape())
}

/**
 * A reduced layer cache that hands attention keys scaled by `1 + 2^-12` (a conversion slip far inside bfloat16's and
 * int8's rounding); `keys(s)` still reads what is stored.
 */
private class Misread(private val cache: KvCache) : KvCache by cache {
    override fun gather(q: Tensor): AttentionInputs {
        val g = cache.gather(q)
        val k = DoubleTensor.of(g.k().toDoubleArray().map { it * (1 + 1.0 / 4096) }.toDoubleArray(), *g.k().shape())
        return AttentionInputs(g.q(), k, g.v(), g.bias(), g.mask(), g.alibiSlopes(), g.sinks(), g.kvLens())
    }
}
