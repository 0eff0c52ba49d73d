package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.Support
import org.attn4j.reference.ReferenceBackend

/** `backend/entry-points` fails each way a backend can break what AttentionBackend documents, and passes the reference. */
class EntryPointChecksTest : FunSpec({
    val config = TckConfig(iterations = 10, reportFile = null, checks = listOf(EntryPointChecks.NAME))

    fun failure(backend: AttentionBackend): String {
        val r = EntryPointChecks.check().run(backend, config)
        r.shouldBeInstanceOf<CheckResult.Failed>()
        return r.message
    }

    test("the reference passes every probe") {
        val r = EntryPointChecks.check().run(ReferenceBackend(), config)
        r.shouldBeInstanceOf<CheckResult.Passed>()
        r.cases shouldBe EntryPointChecks.probes().size
    }

    test("a blank name fails") {
        failure(object : AttentionBackend by ReferenceBackend() { override fun name() = " " }) shouldContain "non-blank name"
    }

    test("supportStorage(null) answered instead of refused fails") {
        failure(object : AttentionBackend by ReferenceBackend() {
            override fun supportStorage(dtype: DType?): Support = Support.ok()
        }) shouldContain "supportStorage(null) returned"
    }

    test("newKvCache(null) failing with a NullPointerException fails") {
        failure(object : AttentionBackend by ReferenceBackend() {
            override fun newKvCache(spec: KvCacheSpec?): KvCache = ContiguousKvCacheOf(spec!!)
        }) shouldContain "NullPointerException"
    }

    test("a decline without a reason, or of float64, fails") {
        failure(object : AttentionBackend by ReferenceBackend() {
            override fun supportStorage(dtype: DType?): Support =
                if (dtype == DType.FLOAT64) Support.no("no float64 here") else ReferenceBackend().supportStorage(dtype)
        }) shouldContain "every backend reads float32 and float64"
    }

    test("a cache of another type than asked fails") {
        failure(object : AttentionBackend by ReferenceBackend() {
            override fun supportStorage(dtype: DType?): Support = if (dtype != null && dtype.isReal()) Support.ok() else ReferenceBackend().supportStorage(dtype)
            override fun newKvCache(spec: KvCacheSpec?): KvCache =
                if (spec == null) ReferenceBackend().newKvCache(spec) else ContiguousKvCacheOf(spec.withDtype(DType.FLOAT32))
        }) shouldContain "made a FLOAT32 cache"
    }
})

private fun ContiguousKvCacheOf(spec: KvCacheSpec): KvCache = org.attn4j.api.ContiguousKvCache(spec)
