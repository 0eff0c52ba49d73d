package org.attn4j.conformance.golden

import com.fasterxml.jackson.databind.ObjectMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.Support
import org.attn4j.api.Tensor
import org.attn4j.reference.ReferenceBackend
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger

/**
 * FORMAT.md's "Reduced-precision and quantized inputs": `<f2`, `<u2` named in `"bfloat16"`, `|i1` with
 * `k_scale`/`v_scale`, read into HalfTensor / Int8Tensor with the values they stand for, and every way of getting
 * them wrong rejected in one line naming the file at fault.
 */
class GoldenReducedTest : FunSpec({
    val root = tempdir().toPath()
    val mapper = ObjectMapper()
    val counter = AtomicInteger()

    // B 2, q_heads 4, kv_heads 2, q_len 3, kv_len 5, head_dim 4: the scale [B, kv_heads, kv_len] has no axis of size 1.
    val b = 2
    val hq = 4
    val hkv = 2
    val lq = 3
    val lk = 5
    val d = 4

    fun floats(vararg shape: Int, seed: Int = 0): FloatTensor {
        val n = shape.fold(1) { a, s -> a * s }
        return FloatTensor.of(FloatArray(n) { (((it + seed) * 37) % 11 - 5) / 8f }, *shape)
    }

    fun f16(t: Tensor) = HalfTensor.round(DType.FLOAT16, t)
    fun bf16(t: Tensor) = HalfTensor.round(DType.BFLOAT16, t)

    /** Raw int8 bytes [b, hkv, lk, d] (scale 1, as the .npy file holds them), all non-zero. */
    fun int8(): Int8Tensor {
        val n = b * hkv * lk * d
        return Int8Tensor.of(ByteArray(n) { ((it * 29) % 255 - 127).toByte().let { v -> if (v == 0.toByte()) 1 else v } },
            FloatArray(n / d) { 1f }, b, hkv, lk, d)
    }

    /** Distinct scales per (b, h, t): 0.01 * (1 + flat index), exact float32 values. */
    fun scales(): FloatTensor = FloatTensor.of(FloatArray(b * hkv * lk) { 0.01f * (1 + it) }, b, hkv, lk)

    fun json(): ObjectNode = mapper.readTree(
        """
        {"format": "attention-golden/1", "name": "r1", "kind": "kernel",
         "spec": {"q_heads": $hq, "kv_heads": $hkv, "head_dim": $d},
         "inputs": {"q": "q.npy", "k": "k.npy", "v": "v.npy"},
         "expected": {"out": "out.npy"}}
        """.trimIndent()) as ObjectNode

    fun tensors(): MutableMap<String, Tensor> = mutableMapOf("q" to floats(b, hq, lq, d), "k" to floats(b, hkv, lk, d, seed = 1),
        "v" to floats(b, hkv, lk, d, seed = 2), "out" to floats(b, hq, lq, d, seed = 3))

    fun case(t: Map<String, Tensor> = tensors(), edit: ObjectNode.() -> Unit = {}): Path {
        val dir = root.resolve("case-${counter.incrementAndGet()}")
        Files.createDirectories(dir)
        for ((k, v) in t) Npy.write(dir.resolve("$k.npy"), v)
        Files.writeString(dir.resolve("case.json"), mapper.writeValueAsString(json().apply(edit)))
        return dir
    }

    fun ObjectNode.obj(key: String) = get(key) as ObjectNode
    fun ObjectNode.bfloat16(vararg names: String) = putArray("bfloat16").also { a -> names.forEach { a.add(it) } }

    /** An int8 k with its scale (and the json naming the scale file). */
    fun int8K(t: MutableMap<String, Tensor> = tensors()): MutableMap<String, Tensor> =
        t.also { it["k"] = int8(); it["k_scale"] = scales() }

    fun rejects(dir: Path, file: String, vararg parts: String): GoldenFormatException {
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }
        withClue(e.message) {
            e.message!!.startsWith(dir.resolve(file).toAbsolutePath().normalize().toString()) ||
                e.message!!.startsWith(dir.resolve(file).toString()) shouldBe true
            e.message!!.lines().size shouldBe 1
            for (p in parts) e.message!! shouldContain p
        }
        return e
    }

    context("reduced q/k/v are read as the values they stand for") {
        test("float16 q, bfloat16 k, int8 v with its scale") {
            val t = tensors()
            t["q"] = f16(floats(b, hq, lq, d))
            t["k"] = bf16(floats(b, hkv, lk, d, seed = 1))
            t["v"] = int8()
            t["v_scale"] = scales()
            val c = GoldenCase.read(case(t) { bfloat16("k"); obj("inputs").put("v_scale", "v_scale.npy") })
            c.shouldBeInstanceOf<GoldenCase.Kernel>()
            c.inputs.q().dtype() shouldBe DType.FLOAT16
            c.inputs.k().dtype() shouldBe DType.BFLOAT16
            c.features shouldContainAll listOf("gqa", "f16", "bf16", "int8")
            c.inputs.q().toDoubleArray().toList() shouldBe t.getValue("q").toDoubleArray().toList()
            c.inputs.k().toDoubleArray().toList() shouldBe t.getValue("k").toDoubleArray().toList()
            // v[b, h, t, i] = byte * v_scale[b, h, t], whatever (b, h, t): the scale follows the case's [B, kv_heads, kv_len]
            val v = c.inputs.v() as Int8Tensor
            val raw = int8()
            val s = scales()
            for (bb in 0 until b) for (h in 0 until hkv) for (tt in 0 until lk) for (i in 0 until d) {
                v.getDouble(bb, h, tt, i) shouldBe raw.getDouble(bb, h, tt, i) * s.get(bb, h, tt).toDouble()
            }
        }
        test("a zero scale is a row of zeros, not an error") {
            val t = int8K()
            t["k_scale"] = FloatTensor.of(FloatArray(b * hkv * lk) { if (it == 3) 0f else 0.5f }, b, hkv, lk)
            val k = (GoldenCase.read(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }) as GoldenCase.Kernel).inputs.k()
            k.getDouble(0, 0, 3, 1) shouldBe 0.0
            k.getDouble(0, 0, 2, 1) shouldBe int8().getDouble(0, 0, 2, 1) * 0.5
        }
        test("GoldenExport writes reduced inputs back as <f2, <u2 named in bfloat16, and |i1 with its scale") {
            val quantized = Int8Tensor.quantize(floats(b, hkv, lk, d, seed = 4))
            val inputs = org.attn4j.api.AttentionInputs.of(f16(floats(b, hq, lq, d)), bf16(floats(b, hkv, lk, d, seed = 1)), quantized)
            val spec = org.attn4j.api.AttentionSpec.builder(hq, hkv, d).build()
            val out = org.attn4j.api.AttentionOutput(floats(b, hq, lq, d, seed = 3), null)
            val dir = root.resolve("exported")
            val c = GoldenExport.write(dir, "exported", "test", spec, inputs, out)
            Npy.readHeader(dir.resolve("q.npy")).dtype shouldBe NpyDtype.F2
            Npy.readHeader(dir.resolve("k.npy")).dtype shouldBe NpyDtype.U2
            Npy.readHeader(dir.resolve("v.npy")).dtype shouldBe NpyDtype.I1
            Npy.read(dir.resolve("v_scale.npy")).shape().toList() shouldBe listOf(b, hkv, lk)
            Files.readString(dir.resolve("case.json")) shouldContain "\"bfloat16\""
            c.inputs.v().toDoubleArray().toList() shouldBe quantized.toDoubleArray().toList()
            c.inputs.k().toDoubleArray().toList() shouldBe inputs.k().toDoubleArray().toList()
        }
    }

    context("bad reduced inputs: one line naming the file, expected and actual") {
        test("a <u2 input the bfloat16 list does not name") {
            val t = tensors().also { it["k"] = bf16(floats(b, hkv, lk, d)) }
            rejects(case(t), "k.npy", "inputs.k: <u2 data must be named in the top-level \"bfloat16\" list", "is absent")
            rejects(case(t) { bfloat16("v") }, "k.npy", "names only v")
        }
        test("a name in bfloat16 that is not a <u2 input") {
            rejects(case { bfloat16("k") }, "k.npy", "inputs.k: named in \"bfloat16\", so expected <u2 bit patterns, got FLOAT32 (<f4)")
            val t = tensors().also { it["v"] = f16(floats(b, hkv, lk, d)) }
            rejects(case(t) { bfloat16("v") }, "v.npy", "got FLOAT16 (<f2)")
            rejects(case { bfloat16("sinks") }, "case.json", "bfloat16: names 'sinks', but only q, k and v may be bfloat16")
            rejects(case { bfloat16("kv_lens") }, "case.json", "only q, k and v")
        }
        test("a malformed bfloat16 list") {
            rejects(case { put("bfloat16", "k") }, "case.json", "bfloat16: expected an array of input names, got a string")
            rejects(case { putArray("bfloat16").add(1) }, "case.json", "bfloat16[0]: expected an input name (string), got an integer")
            val t = tensors().also { it["k"] = bf16(floats(b, hkv, lk, d)) }
            rejects(case(t) { bfloat16("k", "k") }, "case.json", "'k' is named twice")
        }
        test("int8 without its scale") {
            val t = tensors().also { it["k"] = int8() }
            rejects(case(t), "k.npy", "inputs.k is int8 (|i1) but the case has no inputs.k_scale")
            val v = tensors().also { it["v"] = int8() }
            rejects(case(v), "v.npy", "inputs.v is int8 (|i1) but the case has no inputs.v_scale")
        }
        test("int8 q: FORMAT.md gives no q scale") {
            val t = tensors().also { it["q"] = Int8Tensor.of(ByteArray(b * hq * lq * d), FloatArray(b * hq * lq) { 1f }, b, hq, lq, d) }
            rejects(case(t), "q.npy", "inputs.q: int8 (|i1) is not allowed", "k_scale, v_scale")
        }
        test("a scale without its tensor") {
            val t = tensors().also { it["k_scale"] = scales() }
            rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }, "case.json",
                "inputs.k_scale is given but inputs.k is FLOAT32 (<f4), not int8 (|i1)")
            rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy").remove("k") }, "case.json",
                "inputs.k_scale is given without inputs.k")
        }
        test("a scale of the wrong shape") {
            val t = int8K().also { it["k_scale"] = FloatTensor.of(FloatArray(b * hkv * lk), b, lk, hkv) }
            rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }, "k_scale.npy",
                "inputs.k_scale: shape [2, 5, 2] does not match the spec: expected [B, kv_heads, kv_len] = [2, 2, 5]")
            val flat = int8K().also { it["k_scale"] = FloatTensor.of(FloatArray(b * hkv * lk), b * hkv * lk) }
            rejects(case(flat) { obj("inputs").put("k_scale", "k_scale.npy") }, "k_scale.npy", "expected [B, kv_heads, kv_len] = [2, 2, 5]")
        }
        test("a NaN, infinite or negative scale, naming its [b, h, t]") {
            for ((bad, what) in listOf(Float.NaN to "NaN: expected a finite scale >= 0", Float.POSITIVE_INFINITY to "Infinity: expected a finite",
                -0.25f to "-0.25: expected a scale >= 0")) {
                val t = int8K().also { it["k_scale"] = FloatTensor.of(FloatArray(b * hkv * lk) { i -> if (i == 13) bad else 0.5f }, b, hkv, lk) }
                rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }, "k_scale.npy", "inputs.k_scale[1, 0, 3] = $what")
            }
        }
        test("a float64 scale that is not a float32 value") {
            val t = int8K().also { it["k_scale"] = DoubleTensor.of(DoubleArray(b * hkv * lk) { 0.1 }, b, hkv, lk) }
            rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }, "k_scale.npy", "not a float32 value")
            val exact = int8K().also { it["k_scale"] = DoubleTensor.of(DoubleArray(b * hkv * lk) { 0.5 }, b, hkv, lk) }
            GoldenCase.read(case(exact) { obj("inputs").put("k_scale", "k_scale.npy") }).features shouldContainAll listOf("int8")
        }
        test("a scale that is not float") {
            val t = int8K().also { it["k_scale"] = int8().reshape(b, hkv, lk, d) }
            rejects(case(t) { obj("inputs").put("k_scale", "k_scale.npy") }, "k_scale.npy", "inputs.k_scale: expected float (<f4 or <f8), got INT8")
        }
        test("reduced types anywhere but q/k/v of a kernel case") {
            val bias = tensors().also { it["bias"] = f16(floats(lq, lk)) }
            rejects(case(bias) { obj("inputs").put("bias", "bias.npy") }, "bias.npy",
                "inputs.bias: expected float (<f4 or <f8), got FLOAT16", "allowed only for q, k and v of kernel cases")
            val out = tensors().also { it["out"] = bf16(floats(b, hq, lq, d)) }
            rejects(case(out), "out.npy", "expected.out: expected float (<f4 or <f8), got BFLOAT16")
            val sinks = tensors().also { it["sinks"] = int8().reshape(b * hkv * lk * d).slice(0, 0, hq) }
            rejects(case(sinks) { obj("inputs").put("sinks", "sinks.npy") }, "sinks.npy", "got INT8")
            val lens = tensors().also { it["kv_lens"] = int8().reshape(b * hkv * lk * d).slice(0, 0, b) }
            rejects(case(lens) { obj("inputs").put("kv_lens", "kv_lens.npy") }, "kv_lens.npy", "expected int (<i4 or <i8), got INT8")
            val mask = tensors().also { it["mask"] = int8().reshape(b * hkv * lk * d).slice(0, 0, lk) }
            rejects(case(mask) { obj("inputs").put("mask", "mask.npy") }, "mask.npy", "expected bool (|b1), got INT8")
        }
        test("reduced types in a layer case") {
            val dir = root.resolve("layer-${counter.incrementAndGet()}")
            Files.createDirectories(dir)
            val layer = mapper.readTree("""
                {"format": "attention-golden/1", "name": "l1", "kind": "layer",
                 "spec": {"variant": "gqa", "hidden": 8, "q_heads": 2, "kv_heads": 1, "head_dim": 4, "bias": false},
                 "inputs": {"x": "x.npy", "wq": "wq.npy", "wk": "wk.npy", "wv": "wv.npy", "wo": "wo.npy"},
                 "expected": {"y": "y.npy"}}""".trimIndent()) as ObjectNode
            for ((k, t) in mapOf("x" to f16(floats(1, 3, 8)), "wq" to floats(8, 8), "wk" to floats(4, 8), "wv" to floats(4, 8),
                    "wo" to floats(8, 8), "y" to floats(1, 3, 8))) Npy.write(dir.resolve("$k.npy"), t)
            Files.writeString(dir.resolve("case.json"), mapper.writeValueAsString(layer))
            rejects(dir, "x.npy", "inputs.x: expected float (<f4 or <f8), got FLOAT16", "only for q, k and v of kernel cases")
            Npy.write(dir.resolve("x.npy"), floats(1, 3, 8))
            layer.putArray("bfloat16").add("x")
            Files.writeString(dir.resolve("case.json"), mapper.writeValueAsString(layer))
            rejects(dir, "case.json", "bfloat16: names 'x', but layer cases keep float inputs")
            layer.remove("bfloat16")
            (layer.get("inputs") as ObjectNode).put("k_scale", "x.npy")
            Files.writeString(dir.resolve("case.json"), mapper.writeValueAsString(layer))
            rejects(dir, "case.json", "inputs: unknown key 'k_scale'")
        }
        test("a non-finite float16 or bfloat16 input is rejected as not finite") {
            val t = tensors().also { it["k"] = HalfTensor.of(DType.FLOAT16, ShortArray(b * hkv * lk * d) { i -> if (i == 7) 0x7c00 else 0 }, b, hkv, lk, d) }
            rejects(case(t), "case.json", "k[0, 0, 1, 3]: expected a finite value")
        }
    }

    context("the published reduced-precision cases") {
        val reduced = Fixtures.goldenDir.resolve("reduced")
        val dirs = GoldenRunner.discover(listOf(reduced))
        test("there are 10, of every stored type, with lse, GQA, causal, kv_lens, a mask and decode over 600+ keys") {
            dirs.size shouldBe 10
            val cases = dirs.map { GoldenCase.read(it) as GoldenCase.Kernel }
            cases.flatMap { it.features }.toSet() shouldContainAll
                listOf("f16", "bf16", "int8", "gqa", "mqa", "causal", "kv_lens", "mask", "window", "lse", "f64", "dv!=d", "scale")
            cases.any { it.problem.qLen() == 1 && it.problem.kvLen() >= 600 && it.spec.headDim() == 128 } shouldBe true
        }
        // The reference reads every stored element exactly (doubleAtStorage); these wrappers fix what it declares, so
        // that the runner's handling of supportStorage is tested whatever the reference itself says.
        test("on a backend that reads the reduced types (the float64 reference), every case passes, float64 rule included") {
            val results = dirs.map { GoldenRunner.run(it, Declaring(ReferenceBackend())) }
            withClue(results.filter { it.status != CaseResult.Status.PASSED }.joinToString("\n")) {
                results.all { it.status == CaseResult.Status.PASSED } shouldBe true
            }
            results.forEach { it.message!! shouldContain "(float64)" }
        }
        test("a backend that declines a stored type gets the case declined with its reason, never failed") {
            for (dir in dirs) {
                val r = GoldenRunner.run(dir, Declining(ReferenceBackend()))
                r.status shouldBe CaseResult.Status.SKIPPED
                r.message!! shouldContain "declined by this test"
            }
        }
        test("every int8 row is quantized by the rule: max|q| is 127, or the row is zero with scale 0") {
            for (dir in dirs) {
                val c = GoldenCase.read(dir) as GoldenCase.Kernel
                for (t in listOf(c.inputs.k(), c.inputs.v())) if (t is Int8Tensor) {
                    val rows = t.shape().let { it[0] * it[1] * it[2] }
                    val w = t.size(3)
                    for (r in 0 until rows) {
                        val bytes = (0 until w).map { t.data()[r * w + it].toInt() }
                        if (t.scales()[r] == 0f) bytes.all { it == 0 } shouldBe true
                        else bytes.maxOf { Math.abs(it) } shouldBe 127
                    }
                }
            }
        }
    }
})

/** [b] reading every real storage type. */
private class Declaring(val b: AttentionBackend) : AttentionBackend by b {
    override fun supportStorage(dtype: DType): Support = if (dtype.isReal) Support.ok() else b.supportStorage(dtype)
}

/** [b] declining every reduced storage type. */
private class Declining(val b: AttentionBackend) : AttentionBackend by b {
    override fun supportStorage(dtype: DType): Support =
        if (dtype.isReduced) Support.no("$dtype: declined by this test") else b.supportStorage(dtype)
}
