package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PagedKvCache
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import org.attn4j.api.TiledKvCache
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import java.util.Random
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.sqrt

/**
 * float16, bfloat16 and int8 q/k/v and caches (#18), read in place by the kernels, against the float64 reference on
 * the same stored values: dense prefill and decode, contiguous and paged caches, GQA and MLA's latent cache, split-KV
 * lengths, odd head dims, both kernel implementations. Each case also checks that the kernels read the stored type
 * in place (the source's store keeps the type), not a float32 copy.
 */
class ReducedStorageTest : StringSpec({
    val reduced = listOf(DType.FLOAT16, DType.BFLOAT16, DType.INT8)

    /** [t] stored as [dtype] by the api's rule (float16/bfloat16 rounding, int8 with a scale per row). */
    fun store(dtype: DType, t: Tensor): Tensor = if (dtype == DType.INT8) Int8Tensor.quantize(t) else HalfTensor.round(dtype, t)

    fun fill(rng: Random, cache: KvCache, lengths: IntArray) {
        val done = IntArray(lengths.size)
        while (lengths.indices.any { done[it] < lengths[it] }) {
            for (s in lengths.indices) {
                val n = minOf(lengths[s] - done[s], 1 + rng.nextInt(9))
                if (n <= 0) continue
                val v = if (cache.vHeadDim() == 0) null else randn(rng, cache.kvHeads(), n, cache.vHeadDim())
                cache.append(s, randn(rng, cache.kvHeads(), n, cache.headDim()), v)
                done[s] += n
            }
        }
    }

    /** The cache's keys (and values) as dense inputs that keep its storage type, for the reference. */
    fun dense(q: Tensor, cache: KvCache, spec: AttentionSpec): AttentionInputs {
        if (cache.vHeadDim() != 0) return cache.gather(q)
        val len = cache.maxCurrentLength()
        val k = Tensors.zeros(cache.dtype(), cache.sequences(), 1, len, spec.headDim())
        for (s in 0 until cache.sequences()) {
            Tensors.copyInto(cache.keys(s), k.slice(0, s, 1).select(0, 0).slice(1, 0, cache.length(s)))
        }
        return AttentionInputs.of(q, k, k.slice(3, 0, spec.vHeadDim())).withKvLens(*IntArray(cache.sequences()) { cache.length(it) })
    }

    fun checkDecode(backend: CpuBackend, label: String, spec: AttentionSpec, q: Tensor, cache: KvCache) {
        val inputs = dense(q, cache, spec)
        inputs.k().dtype() shouldBe cache.dtype()
        val ref = ReferenceAttention.attend(spec, inputs)
        val naive = Naive32.attend(spec, inputs)
        backend.plan(inputs.validate(spec), options()).use { plan ->
            val got = plan.decode(q, cache)
            val name = "$label [${backend.kernels().name()}]"
            assertAccurate("$name out", got.out(), ref.out(), naive.out().toFloatArray())
            assertAccurate("$name lse", got.lse(), ref.lse(), naive.lse().toFloatArray())
        }
    }

    "supportStorage declares every real type, newKvCache makes reduced caches" {
        val cpu = CpuBackend()
        for (t in DType.entries) cpu.supportStorage(t).isSupported() shouldBe t.isReal()
        for (t in reduced) cpu.newKvCache(KvCacheSpec(t, 2, 2, 8, 16, 16)).dtype() shouldBe t
    }

    for (kernels in Kernels.both) {
        val kn = kernels.name()

        "half conversion in the kernels is exact for all 65536 bit patterns [$kn]" {
            // o = 0 * 1 + 1 * v[e]: the accumulate kernel's load path, widened exactly (-0 becomes +0 in the add)
            val n = 65536
            val bits = ShortArray(n) { it.toShort() }
            for (bf16 in listOf(false, true)) {
                val o = FloatArray(n)
                kernels.accumulateRowsHalf(1, 1, n, floatArrayOf(1f), 0, 1, bits, bf16, 0, n, o, 0, n, null)
                for (i in 0 until n) {
                    val x = if (bf16) java.lang.Float.intBitsToFloat(i shl 16) else java.lang.Float.float16ToFloat(i.toShort())
                    val want = 0f + x
                    check(java.lang.Float.floatToIntBits(o[i]) == java.lang.Float.floatToIntBits(want)) {
                        "bf16=$bf16 bits 0x${Integer.toHexString(i)}: got ${o[i]}, want $want"
                    }
                }
            }
        }

        "int8 rows: scores and P V fold each row's scale, partial vectors and tails [$kn]" {
            val rng = Random(7)
            for (d in listOf(1, 5, kernels.lanes(), kernels.lanes() + 3, 4 * kernels.lanes() + 1, 2 * kernels.lanes())) {
                val n = 6
                val k = Int8Tensor.quantize(randn(rng, n, d))
                val q = randn(rng, 3, d)
                val s = FloatArray(3 * n)
                kernels.dotScoresInt8(3, n, d, 0.5f, q.data(), 0, d, k.data(), k.scales(), k.rowPitch(), 0, d, s, 0, n)
                val p = randn(rng, 3, n)
                val o = FloatArray(3 * d) { 1f }
                kernels.accumulateRowsInt8(3, n, d, p.data(), 0, n, k.data(), k.scales(), k.rowPitch(), 0, d, o, 0, d,
                    floatArrayOf(0.5f, 1f, 2f))
                for (r in 0 until 3) {
                    for (c in 0 until n) {
                        var want = 0.0
                        for (e in 0 until d) want += q.getDouble(r, e) * k.getDouble(c, e)
                        check(abs(s[r * n + c] - 0.5 * want) <= 1e-5 * (1 + abs(want))) { "d=$d score ($r,$c): ${s[r * n + c]} vs ${0.5 * want}" }
                    }
                    for (e in 0 until d) {
                        var want = doubleArrayOf(0.5, 1.0, 2.0)[r]
                        for (c in 0 until n) want += p.getDouble(r, c) * k.getDouble(c, e)
                        check(abs(o[r * d + e] - want) <= 1e-5 * (1 + abs(want))) { "d=$d out ($r,$e): ${o[r * d + e]} vs $want" }
                    }
                }
            }
        }
    }

    val specs = listOf(
        AttentionSpec.builder(8, 2, 40).build(),                                  // GQA, d 40 (vector body + tail)
        AttentionSpec.builder(6, 3, 17).vHeadDim(9).causal().build(),             // odd head dims
        AttentionSpec.builder(4, 1, 16).causal().softcap(4.0).build(),            // MQA
    )

    for (tuning in listOf(CpuTuning.DEFAULT, SMALL_TILES, MANY_SPLITS)) for (backend in Kernels.backends(tuning)) {
        val tag = "[${backend.kernels().name()}, $tuning]"
        // lengths across the split-KV boundary of this tuning (2 minimal splits), a tile edge, empty and single
        val split = backend.pathSizes().splitKeys()[0]
        val lengths = intArrayOf(split + 1, 0, split - 1, 1, tuning.kvTile() + 1)
        val maxLen = lengths.max() + 8

        for (t in reduced) {
            "dense prefill on $t q/k/v read in place $tag" {
                val rng = Random(40L + t.ordinal)
                for (spec in specs) {
                    val f = qkv(rng, spec, 2, 19, 37)
                    val inputs = AttentionInputs.of(store(t, f.q()), store(t, f.k()), store(t, f.v()))
                    KvSource.dense(inputs.k(), inputs.v(), intArrayOf(37, 37)).vs.dtype shouldBe t
                    checkKernel(backend, "$t prefill $spec", spec, inputs)
                    // a causal prefill with many query rows packs the keys: converted as they are transposed
                    val big = qkv(rng, spec, 1, 40, 40)
                    checkKernel(backend, "$t packed $spec", spec,
                        AttentionInputs.of(big.q(), store(t, big.k()), store(t, big.v())))
                }
            }

            "decode over contiguous and paged $t caches, GQA, split-KV lengths $tag" {
                val rng = Random(50L + t.ordinal)
                for (spec in specs) {
                    val contiguous = ContiguousKvCache(t, lengths.size, spec.kvHeads(), maxLen, spec.headDim(), spec.vHeadDim())
                    val paged = PagedKvCache(t, lengths.size, spec.kvHeads(), spec.headDim(), spec.vHeadDim(), 7, 200, maxLen)
                    // the backend's own cache of this type (tiled for float16/bfloat16) and a tile matching nothing
                    val own = backend.newKvCache(KvCacheSpec(t, lengths.size, spec.kvHeads(), maxLen, spec.headDim(), spec.vHeadDim()))
                    own.dtype() shouldBe t
                    if (t != DType.INT8) own.shouldBeInstanceOf<TiledKvCache>()
                    val caches = mutableListOf(contiguous, paged, own)
                    if (t != DType.INT8) caches += TiledKvCache(t, lengths.size, spec.kvHeads(), maxLen, spec.headDim(), spec.vHeadDim(), 7)
                    for (cache in caches) {
                        fill(Random(5), cache, lengths)
                        KvSource.ofCache(cache, false).ks.dtype shouldBe t // read in place, not copied to float32
                    }
                    for (lq in listOf(1, 3)) {
                        val q = randn(rng, lengths.size, spec.qHeads(), lq, spec.headDim())
                        for (cache in caches) checkDecode(backend, "$t ${cache.javaClass.simpleName} lq=$lq $spec", spec, q, cache)
                    }
                }
            }

            "MLA latent decode over $t contiguous and paged caches $tag" {
                val rng = Random(60L + t.ordinal)
                val spec = AttentionSpec.builder(5, 1, 23).vHeadDim(19).causal().alignment(org.attn4j.api.Alignment.BOTTOM_RIGHT).build()
                val contiguous = ContiguousKvCache(t, lengths.size, 1, maxLen, 23, 0)
                val paged = PagedKvCache(t, lengths.size, 1, 23, 0, 16, 100, maxLen)
                for (cache in listOf(contiguous, paged)) {
                    fill(Random(6), cache, lengths)
                    KvSource.ofCache(cache, true).ks.dtype shouldBe t
                }
                for (lq in listOf(1, 2)) {
                    val q = randn(rng, lengths.size, 5, lq, 23)
                    checkDecode(backend, "$t latent contiguous lq=$lq", spec, q, contiguous)
                    checkDecode(backend, "$t latent paged lq=$lq", spec, q, paged)
                }
            }
        }
    }

    /**
     * Layers: the cpu and the reference append their own projections to caches of the same type; a float32 and a
     * float64 projection can round to neighbouring stored values, so the bound is the storage rounding (a few units of
     * its relative precision times the largest output), not the float32 tolerance.
     */
    fun storageBound(t: DType) = when (t) {
        DType.FLOAT16 -> 4.0 / 2048
        DType.BFLOAT16 -> 4.0 / 256
        else -> 4.0 / 127
    }

    fun assertWithin(label: String, got: Tensor, ref: Tensor, rel: Double) {
        val g = got.toDoubleArray(); val r = ref.toDoubleArray()
        var m = 0.0
        for (x in r) m = max(m, abs(x))
        for (i in g.indices) check(abs(g[i] - r[i]) <= 1e-5 + rel * m) { "$label: index $i got ${g[i]} ref ${r[i]} (bound ${1e-5 + rel * m})" }
    }

    val reference = ReferenceBackend()
    for (backend in Kernels.backends()) for (t in reduced) {
        val kn = backend.kernels().name()
        "standard layer steps over $t caches (newCache and paged) against the reference [$kn]" {
            val rng = Random(70L + t.ordinal)
            val c = StandardLayerConfig.of(LayerVariant.GQA, 40, 4, 2, 10).withCausal(true)
            val h = c.hidden()
            val s = 1.0 / sqrt(h.toDouble())
            val w = StandardLayerWeights(randn(rng, 40, h, scale = s), null, randn(rng, 20, h, scale = s), null,
                randn(rng, 20, h, scale = s), null, randn(rng, h, 40, scale = s), null)
            val x = randn(rng, 2, 10, h)
            backend.planLayer(c, w, options()).use { cpu ->
                reference.planLayer(c, w, options()).use { ref ->
                    val refCache = ref.newCache(2, 16, t)
                    val paged = PagedKvCache(t, 2, c.kvHeads(), c.headDim(), c.headDim(), 3, 12, 16)
                    for (cache in listOf(cpu.newCache(2, 16, t), paged)) {
                        cache.dtype() shouldBe t
                        var at = 0
                        for (n in listOf(7, 1, 2)) {
                            val got = cpu.step(x.slice(1, at, n), cache)
                            val want = if (cache === paged) null else ref.step(x.slice(1, at, n), refCache)
                            if (want != null) assertWithin("$t step at $at", got, want, storageBound(t))
                            at += n
                        }
                        cache.length(1) shouldBe 10
                    }
                }
            }
        }

        "MLA layer steps over a $t latent cache against the reference [$kn]" {
            val rng = Random(80L + t.ordinal)
            val c = MlaLayerConfig.of(32, 4, 0, 16, 8, 4, 8)
            val h = c.hidden(); val r = c.kvLoraRank(); val s = 1.0 / sqrt(h.toDouble())
            val w = MlaLayerWeights(randn(rng, c.qHeads() * c.qkHeadDim(), h, scale = s), null, null, null,
                randn(rng, r + c.qkRopeHeadDim(), h, scale = s), FloatTensor.of(FloatArray(r) { 1f }, r),
                randn(rng, c.qHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), r, scale = 1.0 / sqrt(r.toDouble())),
                randn(rng, h, c.qHeads() * c.vHeadDim(), scale = 1.0 / sqrt((c.qHeads() * c.vHeadDim()).toDouble())))
            val x = randn(rng, 2, 9, h)
            backend.planLayer(c, w, options()).use { cpu ->
                reference.planLayer(c, w, options()).use { ref ->
                    val mine = cpu.newCache(2, 12, t)
                    val theirs = ref.newCache(2, 12, t)
                    mine.dtype() shouldBe t
                    var at = 0
                    for (n in listOf(6, 1, 2)) {
                        assertWithin("$t MLA step at $at", cpu.step(x.slice(1, at, n), mine), ref.step(x.slice(1, at, n), theirs),
                            storageBound(t))
                        at += n
                    }
                }
            }
        }
    }
})
