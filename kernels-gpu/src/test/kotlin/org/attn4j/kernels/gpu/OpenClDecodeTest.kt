package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionSpec
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.KvCache
import org.attn4j.api.PagedKvCache
import org.attn4j.api.Tensor
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import kotlin.random.Random

/** Decoding against KV caches: pages read in place through the block table, contiguous slabs, float64 caches. */
class OpenClDecodeTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val plans by lazy { PlanCache(Gpu.require()) }
    afterSpec { plans.close() }

    /** Appends random chunks to the sequences in turn (so a paged cache's pages interleave); sequence 1 stays empty. */
    fun fill(cache: KvCache, r: Random, f64: Boolean, rounds: Int) {
        repeat(rounds) {
            for (s in 0 until cache.sequences()) {
                if (s == 1) continue
                val n = 1 + r.nextInt(9)
                if (cache.length(s) + n > cache.maxLength()) continue
                fun t(vararg shape: Int): Tensor = if (f64) TestData.doubles(r, *shape) else TestData.floats(r, *shape)
                cache.append(s, t(cache.kvHeads(), n, cache.headDim()), t(cache.kvHeads(), n, cache.vHeadDim()))
            }
        }
    }

    /** Decodes [q] over [cache] and checks it against the reference on the cache's dense gather (API code, not ours). */
    fun check(spec: AttentionSpec, cache: KvCache, q: Tensor, splits: Int, f64: Boolean, label: String) {
        val got = plans.plan(spec, splits).decode(q, cache)
        val dense = cache.gather(q)
        val ref = ReferenceAttention.attend(spec, dense)
        try {
            if (f64) {
                TestData.checkFloat64("out", got.out(), ref.out())
                TestData.checkFloat64("lse", got.lse(), ref.lse())
            } else {
                val naive = Naive32.attend(spec, dense)
                TestData.checkFloat32("out", got.out(), ref.out(), naive.out().toFloatArray())
                TestData.checkFloat32("lse", got.lse(), ref.lse(), naive.lse().toFloatArray())
            }
        } catch (e: Throwable) {
            throw AssertionError("$label, $spec, splits $splits: ${e.message}", e)
        }
    }

    fun specs(r: Random): List<AttentionSpec> = listOf(
        AttentionSpec.builder(8, 2, 16).causal().build(),
        AttentionSpec.builder(4, 4, 7).vHeadDim(5).softcap(20.0).build(),
        AttentionSpec.builder(6, 1, 64).causal().window(12, -1).build(),
        AttentionSpec.builder(8, 1, 65).scale(0.2 + r.nextDouble()).build(),
    )

    "paged decode reads fragmented pages through the block table" {
        val r = Random(31)
        for (spec in specs(r)) {
            for (pageSize in listOf(1, 3, 16)) {
                val cache = PagedKvCache(DType.FLOAT32, 3, spec.kvHeads(), spec.headDim(), spec.vHeadDim(), pageSize, 200, 120)
                fill(cache, r, f64 = false, rounds = 6)
                // the pages of sequences 0 and 2 interleave: not one run of consecutive pages
                val t0 = cache.blockTable(0)
                (t0.size < 2 || (1 until t0.size).any { t0[it] != t0[it - 1] + 1 }) shouldBe true
                for (qLen in listOf(1, 3)) {
                    val q = TestData.floats(r, 3, spec.qHeads(), qLen, spec.headDim())
                    for (splits in listOf(0, 1, 3)) check(spec, cache, q, splits, false, "paged page $pageSize qLen $qLen")
                }
            }
        }
    }

    "paged decode after a sequence is released and its pages reused" {
        val r = Random(32)
        val spec = AttentionSpec.builder(6, 2, 8).causal().build()
        val cache = PagedKvCache(DType.FLOAT32, 3, 2, 8, 8, 4, 40, 60)
        fill(cache, r, false, 5)
        cache.release(0)
        fill(cache, r, false, 3)
        check(spec, cache, TestData.floats(r, 3, 6, 2, 8), 0, false, "after release")
    }

    "contiguous cache decode reads the slab up to the longest sequence" {
        val r = Random(33)
        for (spec in specs(r)) {
            val cache = ContiguousKvCache(DType.FLOAT32, 3, spec.kvHeads(), 90, spec.headDim(), spec.vHeadDim())
            fill(cache, r, false, 7)
            for (splits in listOf(0, 2)) check(spec, cache, TestData.floats(r, 3, spec.qHeads(), 2, spec.headDim()), splits, false, "contiguous")
        }
    }

    "float64 caches and queries decode in double to 1e-9" {
        val r = Random(34)
        val spec = AttentionSpec.builder(6, 2, 33).causal().softcap(10.0).build()
        val paged = PagedKvCache(DType.FLOAT64, 3, 2, 33, 33, 5, 60, 100)
        fill(paged, r, true, 5)
        check(spec, paged, TestData.doubles(r, 3, 6, 1, 33), 0, true, "paged f64")
        check(spec, paged, TestData.doubles(r, 3, 6, 4, 33), 4, true, "paged f64 split")
        val slab = ContiguousKvCache(DType.FLOAT64, 3, 2, 100, 33, 33)
        fill(slab, r, true, 5)
        check(spec, slab, TestData.doubles(r, 3, 6, 2, 33), 0, true, "contiguous f64")
    }

    "decode rejects a top-left causal spec and a cache of other dimensions" {
        val r = Random(35)
        val cache = PagedKvCache(DType.FLOAT32, 2, 2, 8, 8, 4, 10, 20)
        fill(cache, r, false, 1)
        val q = TestData.floats(r, 2, 4, 1, 8)
        shouldThrow<AttentionException> {
            plans.plan(AttentionSpec.builder(4, 2, 8).causal().alignment(Alignment.TOP_LEFT).build()).decode(q, cache)
        }.message shouldContain "alignment"
        shouldThrow<AttentionException> { plans.plan(AttentionSpec.builder(4, 4, 8).build()).decode(TestData.floats(r, 2, 4, 1, 8), cache) }
            .message shouldContain "cache.kvHeads"
        shouldThrow<AttentionException> { plans.plan(AttentionSpec.builder(4, 2, 8).build()).decode(TestData.floats(r, 3, 4, 1, 8), cache) }
            .message shouldContain "q.shape"
    }
})
