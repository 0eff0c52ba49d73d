package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.TiledKvCache
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.KvCache
import org.attn4j.api.PagedKvCache
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import java.util.Random

/** Decode over contiguous and paged caches (read in place), split-KV merging and determinism. */
class DecodeTest : StringSpec({

    /** Fills a cache with [lengths] random tokens per sequence, round-robin in small chunks so pages interleave. */
    fun fill(rng: Random, cache: KvCache, lengths: IntArray) {
        val done = IntArray(lengths.size)
        while ((lengths.indices).any { done[it] < lengths[it] }) {
            for (s in lengths.indices) {
                val n = minOf(lengths[s] - done[s], 1 + rng.nextInt(5))
                if (n <= 0) continue
                val v = if (cache.vHeadDim() == 0) null else randn(rng, cache.kvHeads(), n, cache.vHeadDim())
                cache.append(s, randn(rng, cache.kvHeads(), n, cache.headDim()), v)
                done[s] += n
            }
        }
    }

    /** decode(q, cache) against the reference on the same keys gathered densely (with kv_lens). */
    fun checkDecode(backend: CpuBackend, label: String, spec: AttentionSpec, q: Tensor, cache: KvCache, latent: Boolean = false) {
        val dense = if (latent) {
            // a keys-only cache read as MLA's absorbed form: values are the first vHeadDim key columns
            val len = cache.maxCurrentLength()
            val k = FloatTensor.zeros(cache.sequences(), 1, len, spec.headDim())
            for (s in 0 until cache.sequences()) org.attn4j.api.Tensors.copyInto(cache.keys(s), k.slice(0, s, 1).select(0, 0).slice(1, 0, cache.length(s)))
            AttentionInputs.of(q, k, k.slice(3, 0, spec.vHeadDim())).withKvLens(*IntArray(cache.sequences()) { cache.length(it) })
        } else cache.gather(q)
        val ref = ReferenceAttention.attend(spec, dense)
        val naive = Naive32.attend(spec, dense)
        backend.plan(dense.validate(spec), options()).use { plan ->
            val got = plan.decode(q, cache)
            val name = "$label [${backend.kernels().name()}]"
            assertAccurate("$name out", got.out(), ref.out(), naive.out().toFloatArray())
            assertAccurate("$name lse", got.lse(), ref.lse(), naive.lse().toFloatArray())
            if (!latent) {
                // the dense prefill path on the gathered inputs agrees with the reference too
                val run = plan.run(dense)
                assertAccurate("$name dense out", run.out(), ref.out(), naive.out().toFloatArray())
            }
        }
    }

    for (tuning in listOf(CpuTuning.DEFAULT, SMALL_TILES, MANY_SPLITS)) for (backend in Kernels.backends(tuning)) {
        val tag = "[${backend.kernels().name()}, $tuning]"

        "contiguous, paged and tiled caches, different lengths per sequence $tag" {
            val rng = Random(21)
            val lengths = intArrayOf(150, 0, 37, 1)
            for (spec in listOf(AttentionSpec.builder(8, 2, 40).build(), AttentionSpec.builder(6, 3, 17).vHeadDim(9).causal().build(),
                AttentionSpec.builder(4, 1, 16).causal().window(Window(20, -1)).softcap(4.0).build())) {
                val contiguous = ContiguousKvCache(DType.FLOAT32, 4, spec.kvHeads(), 160, spec.headDim(), spec.vHeadDim())
                val paged = PagedKvCache(DType.FLOAT32, 4, spec.kvHeads(), spec.headDim(), spec.vHeadDim(), 7, 40, 200)
                // the backend's own cache (tiles of kvTile) and a tile length that matches neither kvTile nor a page
                val own = backend.newKvCache(4, spec.kvHeads(), 160, spec.headDim(), spec.vHeadDim())
                own.shouldBeInstanceOf<TiledKvCache>()
                val tiled7 = TiledKvCache(DType.FLOAT32, 4, spec.kvHeads(), 160, spec.headDim(), spec.vHeadDim(), 7)
                for (cache in listOf(contiguous, paged, own, tiled7)) fill(Random(5), cache, lengths)
                for (lq in listOf(1, 4)) {
                    val q = randn(rng, 4, spec.qHeads(), lq, spec.headDim())
                    checkDecode(backend, "contiguous lq=$lq $spec", spec, q, contiguous)
                    checkDecode(backend, "paged lq=$lq $spec", spec, q, paged)
                    checkDecode(backend, "tiled (backend) lq=$lq $spec", spec, q, own)
                    checkDecode(backend, "tiled 7 lq=$lq $spec", spec, q, tiled7)
                }
            }
        }

        "latent (keys-only) caches read as MLA's absorbed form $tag" {
            val rng = Random(22)
            val spec = AttentionSpec.builder(8, 1, 36).vHeadDim(32).scale(0.2).causal().build()
            val contiguous = ContiguousKvCache(DType.FLOAT32, 2, 1, 100, 36, 0)
            val paged = PagedKvCache(DType.FLOAT32, 2, 1, 36, 0, 16, 20, 100)
            fill(Random(6), contiguous, intArrayOf(90, 33))
            fill(Random(6), paged, intArrayOf(90, 33))
            for (lq in listOf(1, 3)) {
                val q = randn(rng, 2, 8, lq, 36)
                checkDecode(backend, "latent contiguous lq=$lq", spec, q, contiguous, latent = true)
                checkDecode(backend, "latent paged lq=$lq", spec, q, paged, latent = true)
            }
        }
    }

    for (backend in Kernels.backends(MANY_SPLITS)) {
        val kn = backend.kernels().name()

        "split-KV merging with empty splits, masks, sinks and kv_lens [$kn]" {
            val rng = Random(23)
            val spec = AttentionSpec.builder(4, 2, 24).causal().window(Window(60, -1)).build()
            val sinks = FloatTensor.of(floatArrayOf(1f, -2f, 0f, 3f), 4)
            val lk = 300
            val mask = BoolTensor.of(BooleanArray(lk) { it % 7 != 3 && (it < 100 || it > 140) }, lk)
            val inputs = qkv(rng, spec, 3, 2, lk).withSinks(sinks).withKvLens(300, 0, 120).withMask(mask)
            checkKernel(backend, "many splits", spec, inputs)
            checkKernel(backend, "many splits, one thread", spec, inputs, threads = 1)
        }
    }

    "float64 caches are copied, then attended [both kernels]" {
        val rng = Random(24)
        val spec = AttentionSpec.builder(4, 2, 19).causal().build()
        val cache = ContiguousKvCache(DType.FLOAT64, 2, 2, 50, 19, 19)
        fill(rng, cache, intArrayOf(44, 9))
        for (backend in Kernels.backends()) checkDecode(backend, "float64 cache", spec, randn(rng, 2, 4, 2, 19), cache)
    }

    "repeated runs are bit-identical, whatever the number of threads" {
        val rng = Random(25)
        for (backend in Kernels.backends(SMALL_TILES) + Kernels.backends(MANY_SPLITS)) {
            val spec = AttentionSpec.builder(6, 2, 33).causal().build()
            val inputs = qkv(rng, spec, 2, 40, 90)
            val decodeInputs = qkv(rng, spec, 2, 1, 300)
            val results = listOf(1, 2, 3, 3).map { threads ->
                backend.plan(inputs.validate(spec), options(threads)).use { plan ->
                    listOf(plan.run(inputs).out(), plan.run(decodeInputs).out(), plan.run(decodeInputs).lse()!!)
                        .map { (it as FloatTensor).data().toList() }
                }
            }
            for (r in results) r shouldBe results[0]
        }
    }

    "one plan shared by four threads at once gives the bits of sequential calls" {
        val rng = Random(27)
        val spec = AttentionSpec.builder(8, 2, 24).causal().build()
        val cache = PagedKvCache(DType.FLOAT32, 2, 2, 24, 24, 16, 40, 300)
        fill(rng, cache, intArrayOf(250, 120))
        val prefill = qkv(rng, spec, 2, 50, 70)
        val q = randn(rng, 2, 8, 1, 24)
        for (backend in Kernels.backends()) {
            backend.plan(prefill.validate(spec), options(threads = 3)).use { plan ->
                val expected = listOf(plan.run(prefill).out(), plan.decode(q, cache).out()).map { (it as FloatTensor).data().toList() }
                val pool = java.util.concurrent.Executors.newFixedThreadPool(4)
                try {
                    val futures = (0 until 8).map { n ->
                        pool.submit<List<Float>> { (if (n % 2 == 0) plan.run(prefill) else plan.decode(q, cache)).out().let { (it as FloatTensor).data().toList() } }
                    }
                    futures.forEachIndexed { n, f -> f.get() shouldBe expected[n % 2] }
                } finally {
                    pool.shutdown()
                }
            }
        }
    }

    "decode leaves the cache unchanged" {
        val rng = Random(26)
        val spec = AttentionSpec.builder(4, 2, 8).build()
        val cache = PagedKvCache(DType.FLOAT32, 2, 2, 8, 8, 4, 10, 40)
        fill(rng, cache, intArrayOf(13, 6))
        val before = (cache.keyPages() as FloatTensor).data().copyOf()
        Kernels.backends()[1].plan(org.attn4j.api.AttentionProblem.of(spec, 2, 1, 13), options()).use { it.decode(randn(rng, 2, 4, 1, 8), cache) }
        (cache.keyPages() as FloatTensor).data().toList() shouldBe before.toList()
        cache.length(0) shouldBe 13
    }
})
