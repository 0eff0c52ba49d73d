package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.doubles.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.LayerVariant
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import java.util.OptionalDouble
import kotlin.random.Random

/**
 * float16, bfloat16 and int8 K/V: kernel calls and decodes read them as stored (converted in the kernel) and are
 * checked against the float64 reference of the same stored values; device-resident caches hold exactly the bytes the
 * api's Quantization gives a host cache fed the same appends.
 */
class OpenClStorageTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)
    val plans by lazy { PlanCache(Gpu.require()) }
    afterSpec { plans.close() }

    val reduced = listOf(DType.FLOAT16, DType.BFLOAT16, DType.INT8)

    /** [t]'s values stored in [dtype] by the api's rule. */
    fun store(t: Tensor, dtype: DType): Tensor = when (dtype) {
        DType.FLOAT16, DType.BFLOAT16 -> HalfTensor.round(dtype, t)
        DType.INT8 -> Int8Tensor.quantize(t)
        else -> t
    }

    /** The stored bits of [t] in row-major order: element bits, then (int8) the raw bits of each row's scale. */
    fun bits(t: Tensor): List<Long> = when (val c = t.copy()) {
        is HalfTensor -> c.bits().map { it.toLong() }
        is Int8Tensor -> c.data().map { it.toLong() } + c.scales().map { it.toRawBits().toLong() }
        is FloatTensor -> c.data().map { it.toRawBits().toLong() }
        is DoubleTensor -> c.data().map { it.toRawBits() }
        else -> error("bits of ${t.dtype()}")
    }

    fun checkAgainstReference(spec: AttentionSpec, got: org.attn4j.api.AttentionOutput, inputs: AttentionInputs, what: String) {
        val ref = ReferenceAttention.attend(spec, inputs)
        val naive = Naive32.attend(spec, inputs)
        try {
            TestData.checkFloat32("out", got.out(), ref.out(), naive.out().toFloatArray())
            TestData.checkFloat32("lse", got.lse(), ref.lse(), naive.lse().toFloatArray())
        } catch (e: Throwable) {
            throw AssertionError("$what, $spec: ${e.message}", e)
        }
    }

    fun specs(): List<AttentionSpec> = listOf(
        AttentionSpec.builder(8, 2, 16).causal().build(),
        AttentionSpec.builder(4, 4, 7).vHeadDim(5).softcap(20.0).build(),
        AttentionSpec.builder(6, 1, 65).causal().window(12, -1).build(),
    )

    "supportStorage: float16, bfloat16 and int8 are declared; bool and int32 declined with the reason" {
        val gpu = Gpu.require()
        for (t in listOf(DType.FLOAT32, DType.FLOAT64) + reduced) withClue("$t") { gpu.supportStorage(t).isSupported() shouldBe true }
        gpu.supportStorage(DType.BOOL).isSupported() shouldBe false
        gpu.supportStorage(DType.INT32).reasons().joinToString() shouldContain "INT32"
        // and they go to the device as stored (the kernel converts them), not widened on the host
        val r = Random(180)
        ClScope(gpu.contextForTests()).use { scope ->
            for ((t, kv) in listOf(DType.FLOAT16 to KvType.FLOAT16, DType.BFLOAT16 to KvType.BFLOAT16, DType.INT8 to KvType.INT8)) {
                val stored = scope.uploadStored(store(TestData.floats(r, 2, 3, 4), t), RealType.FLOAT32)
                withClue("$t") {
                    stored.type() shouldBe kv
                    (stored.scales() != 0L) shouldBe (t == DType.INT8)
                }
            }
            scope.uploadStored(TestData.floats(r, 2, 3), RealType.FLOAT32).type() shouldBe KvType.REAL
        }
    }

    "kernel calls with reduced K/V (and reduced q) against the float64 reference of the stored values" {
        val r = Random(181)
        for (dtype in reduced) {
            for (spec in specs()) {
                for ((lq, lk) in listOf(1 to 1, 5 to 40, 33 to 70)) {
                    val b = 2
                    val q = TestData.floats(r, b, spec.qHeads(), lq, spec.headDim())
                    val k = store(TestData.floats(r, b, spec.kvHeads(), lk, spec.headDim(), scale = 2.0), dtype)
                    val v = store(TestData.floats(r, b, spec.kvHeads(), lk, spec.vHeadDim(), scale = 3.0), dtype)
                    val inputs = AttentionInputs.of(q, k, v)
                    for (splits in listOf(0, 3)) {
                        checkAgainstReference(spec, plans.plan(spec, splits).run(inputs), inputs, "$dtype q f32 ($lq, $lk) splits $splits")
                    }
                    val reducedQ = AttentionInputs.of(store(q, dtype), k, v)
                    checkAgainstReference(spec, plans.plan(spec).run(reducedQ), reducedQ, "$dtype q $dtype ($lq, $lk)")
                }
            }
        }
        // K and V of different types (read as float32 after an exact widening on the host)
        val spec = AttentionSpec.builder(4, 2, 16).causal().build()
        val mixed = AttentionInputs.of(TestData.floats(r, 1, 4, 3, 16), store(TestData.floats(r, 1, 2, 9, 16), DType.FLOAT16),
            store(TestData.floats(r, 1, 2, 9, 16), DType.INT8))
        checkAgainstReference(spec, plans.plan(spec).run(mixed), mixed, "k f16, v int8")
    }

    /** Appends the same random chunks to every cache (sequence 1 stays empty), so their contents can be compared. */
    fun fillAll(caches: List<KvCache>, r: Random, rounds: Int) {
        val c0 = caches[0]
        repeat(rounds) {
            for (s in 0 until c0.sequences()) {
                if (s == 1) continue
                val n = 1 + r.nextInt(9)
                if (c0.length(s) + n > c0.maxLength()) continue
                val k = TestData.floats(r, c0.kvHeads(), n, c0.headDim(), scale = 2.0)
                val v = TestData.floats(r, c0.kvHeads(), n, c0.vHeadDim(), scale = 3.0)
                for (c in caches) c.append(s, k, v)
            }
        }
    }

    fun decodeCheck(spec: AttentionSpec, cache: KvCache, r: Random, what: String) {
        for (qLen in listOf(1, 3)) {
            val q = TestData.floats(r, cache.sequences(), spec.qHeads(), qLen, spec.headDim())
            for (splits in listOf(0, 2)) {
                // the reference reads the cache's own dense gather (api code), exact for every stored type
                checkAgainstReference(spec, plans.plan(spec, splits).decode(q, cache), cache.gather(q), "$what qLen $qLen splits $splits")
            }
        }
    }

    "decode over host caches the user made: contiguous and paged, every reduced type" {
        val r = Random(182)
        for (dtype in reduced) {
            for (spec in specs()) {
                val slab = ContiguousKvCache(dtype, 3, spec.kvHeads(), 90, spec.headDim(), spec.vHeadDim())
                val paged = PagedKvCache(dtype, 3, spec.kvHeads(), spec.headDim(), spec.vHeadDim(), 5, 80, 90)
                fillAll(listOf(slab, paged), r, 6)
                decodeCheck(spec, slab, r, "host contiguous $dtype")
                decodeCheck(spec, paged, r, "host paged $dtype")
            }
        }
    }

    "device caches hold the api's Quantization of the appends, byte for byte, and decode against the reference" {
        val gpu = Gpu.require()
        val r = Random(183)
        for (dtype in listOf(DType.FLOAT32) + reduced) {
            for (spec in specs()) {
                val cs = KvCacheSpec(dtype, 3, spec.kvHeads(), 90, spec.headDim(), spec.vHeadDim())
                val host = ContiguousKvCache(cs)
                val device = gpu.newKvCache(cs) as OpenClKvCache
                val pagedDevice = gpu.newPagedKvCache(cs, 4, 70)
                try {
                    fillAll(listOf(host, device, pagedDevice), r, 6)
                    // interleaved appends: sequence 0's and 2's pages alternate in the pool
                    val t0 = pagedDevice.blockTable(0)
                    (t0.size < 2 || (1 until t0.size).any { t0[it] != t0[it - 1] + 1 }) shouldBe true
                    for (c in listOf(device, pagedDevice)) {
                        c.dtype() shouldBe dtype
                        for (s in 0 until 3) {
                            withClue("$dtype ${c} sequence $s") {
                                c.length(s) shouldBe host.length(s)
                                c.keys(s).dtype() shouldBe dtype
                                bits(c.keys(s)) shouldBe bits(host.keys(s))
                                bits(c.values(s)) shouldBe bits(host.values(s))
                            }
                        }
                        decodeCheck(spec, c, r, "device ${if (c.isPaged) "paged" else "contiguous"} $dtype")
                    }
                    // a batched append too ([B, kvHeads, n, D]): same bytes
                    val k = TestData.floats(r, 3, spec.kvHeads(), 2, spec.headDim())
                    val v = TestData.floats(r, 3, spec.kvHeads(), 2, spec.vHeadDim())
                    for (c in listOf(host, device, pagedDevice)) c.append(k, v)
                    for (s in 0 until 3) bits(pagedDevice.keys(s)) shouldBe bits(host.keys(s))
                    for (s in 0 until 3) bits(device.values(s)) shouldBe bits(host.values(s))
                } finally {
                    device.close()
                    pagedDevice.close()
                }
            }
        }
    }

    "a failed append to a device cache writes nothing: room, page pool, non-finite and float16 overflow" {
        val gpu = Gpu.require()
        val r = Random(184)
        val cs = KvCacheSpec(DType.FLOAT16, 2, 2, 10, 8, 8)
        gpu.newPagedKvCache(cs, 4, 3).use { c ->
            c.append(0, TestData.floats(r, 2, 6, 8), TestData.floats(r, 2, 6, 8))
            val before = bits(c.keys(0))
            shouldThrow<AttentionException> { c.append(0, TestData.floats(r, 2, 5, 8), TestData.floats(r, 2, 5, 8)) }
                .message shouldContain "append"
            shouldThrow<AttentionException> { c.append(1, TestData.floats(r, 2, 5, 8), TestData.floats(r, 2, 5, 8)) }
                .message shouldContain "free pages"
            val big = TestData.floats(r, 2, 1, 8)
            big.data()[3] = 70000f
            shouldThrow<AttentionException> { c.append(0, big, TestData.floats(r, 2, 1, 8)) }.message shouldContain "FLOAT16"
            val nan = TestData.floats(r, 2, 1, 8)
            nan.data()[0] = Float.NaN
            shouldThrow<AttentionException> { c.append(0, TestData.floats(r, 2, 1, 8), nan) }.message shouldContain "v"
            shouldThrow<AttentionException> { c.append(0, TestData.floats(r, 2, 1, 7), TestData.floats(r, 2, 1, 8)) }
                .message shouldContain "k"
            c.length(0) shouldBe 6
            c.length(1) shouldBe 0
            c.freePageCount() shouldBe 1
            bits(c.keys(0)) shouldBe before
            c.truncate(0, 3)
            c.freePageCount() shouldBe 2
            c.reset()
            c.freePageCount() shouldBe 3
        }
        val closed = gpu.newKvCache(cs) as OpenClKvCache
        closed.close()
        shouldThrow<AttentionException> { closed.keys(0) }.message shouldContain "closed"
    }

    "layers: newCache(storage) is a device cache; steps over it match the reference layer on a host cache of that type" {
        val gpu = Gpu.require()
        val reference = ReferenceBackend()
        val r = Random(185)
        val c = StandardLayerConfig(LayerVariant.GQA, 32, 8, 2, 8, true, true, Alignment.BOTTOM_RIGHT, Window.NONE, 0.0, OptionalDouble.empty())
        fun w(vararg shape: Int) = TestData.floats(r, *shape, scale = 0.2)
        val weights = StandardLayerWeights(w(64, 32), w(64), w(16, 32), w(16), w(16, 32), w(16), w(32, 64), w(32))
        val chunks = listOf(6, 1, 1, 4, 1)
        val x = TestData.floats(r, 2, chunks.sum(), 32)
        for (dtype in reduced) {
            // the storage rounding step: the two layers project K/V in float32 vs float64, so a value on a rounding
            // boundary may land one step apart; the attention mixes values, so an output moves by about a step
            val eps = when (dtype) { DType.FLOAT16 -> 1.0 / 2048; DType.BFLOAT16 -> 1.0 / 256; else -> 1.0 / 127 }
            reference.planLayer(c, weights, PlanOptions.defaults()).use { ref ->
                gpu.planLayer(c, weights, PlanOptions.defaults()).use { layer ->
                    val hostCache = ContiguousKvCache(c.cacheSpec(dtype, 2, 16))
                    val deviceCache = layer.newCache(2, 16, dtype)
                    (deviceCache is OpenClKvCache) shouldBe true
                    deviceCache.dtype() shouldBe dtype
                    var at = 0
                    for (n in chunks) {
                        val chunk = x.slice(1, at, n)
                        val want = ref.step(chunk, hostCache).toDoubleArray()
                        val got = layer.step(chunk, deviceCache).toDoubleArray()
                        val err = TestData.maxError(got, want)
                        withClue("$dtype chunk at $at: error $err, tolerance 4 * $eps * (1 + max|y|)") {
                            err shouldBeLessThanOrEqual 4 * eps * (1 + TestData.maxAbs(want))
                        }
                        at += n
                    }
                    deviceCache.length(1) shouldBe chunks.sum()
                    (deviceCache as OpenClKvCache).close()
                }
            }
        }
    }
})
