package org.attn4j.conformance.golden

import com.fasterxml.jackson.databind.ObjectMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.Alignment
import org.attn4j.api.BoolTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger

/**
 * The case.json reader: a well-formed kernel / layer case is understood completely, and every kind of malformed
 * document is rejected with a [GoldenFormatException] naming the file and the problem.
 */
class GoldenCaseTest : FunSpec({
    val root = tempdir().toPath()
    val mapper = ObjectMapper()
    val counter = AtomicInteger()

    fun floats(vararg shape: Int): FloatTensor {
        val n = shape.fold(1) { a, b -> a * b }
        return FloatTensor.of(FloatArray(n) { ((it * 37) % 11 - 5) / 8f }, *shape)
    }

    /** A fresh folder holding [tensors] as `<key>.npy` and [json] as case.json. */
    fun caseDir(json: ObjectNode, tensors: Map<String, Tensor>): Path {
        val dir = root.resolve("case-${counter.incrementAndGet()}")
        Files.createDirectories(dir)
        for ((k, t) in tensors) Npy.write(dir.resolve("$k.npy"), t)
        Files.writeString(dir.resolve("case.json"), mapper.writerWithDefaultPrettyPrinter().writeValueAsString(json))
        return dir
    }

    // A kernel case: q_heads 2, kv_heads 1 (MQA), head_dim 4, B 1, q_len 3, kv_len 5.
    fun kernelJson(): ObjectNode = mapper.readTree(
        """
        {"format": "attention-golden/1", "name": "k1", "source": "test", "kind": "kernel",
         "spec": {"q_heads": 2, "kv_heads": 1, "head_dim": 4},
         "inputs": {"q": "q.npy", "k": "k.npy", "v": "v.npy"},
         "expected": {"out": "out.npy"}}
        """.trimIndent()) as ObjectNode

    fun kernelTensors(): MutableMap<String, Tensor> =
        mutableMapOf("q" to floats(1, 2, 3, 4), "k" to floats(1, 1, 5, 4), "v" to floats(1, 1, 5, 4), "out" to floats(1, 2, 3, 4))

    fun kernelCase(tensors: Map<String, Tensor> = kernelTensors(), edit: ObjectNode.() -> Unit = {}): Path =
        caseDir(kernelJson().apply(edit), tensors)

    // A GQA-family layer: hidden 8, q_heads 2, kv_heads 1, head_dim 4, B 1, q_len 3.
    fun layerJson(): ObjectNode = mapper.readTree(
        """
        {"format": "attention-golden/1", "name": "l1", "kind": "layer",
         "spec": {"variant": "gqa", "hidden": 8, "q_heads": 2, "kv_heads": 1, "head_dim": 4, "bias": false},
         "inputs": {"x": "x.npy", "wq": "wq.npy", "wk": "wk.npy", "wv": "wv.npy", "wo": "wo.npy"},
         "expected": {"y": "y.npy"}}
        """.trimIndent()) as ObjectNode

    fun layerTensors(): MutableMap<String, Tensor> = mutableMapOf("x" to floats(1, 3, 8), "wq" to floats(8, 8), "wk" to floats(4, 8),
        "wv" to floats(4, 8), "wo" to floats(8, 8), "y" to floats(1, 3, 8))

    fun layerCase(tensors: Map<String, Tensor> = layerTensors(), edit: ObjectNode.() -> Unit = {}): Path =
        caseDir(layerJson().apply(edit), tensors)

    // An MLA layer without query LoRA: hidden 8, 2 heads, kv_lora 4, nope 2, rope 2, v 3.
    fun mlaJson(): ObjectNode = mapper.readTree(
        """
        {"format": "attention-golden/1", "name": "m1", "kind": "layer",
         "spec": {"variant": "mla", "hidden": 8, "q_heads": 2, "q_lora_rank": 0, "kv_lora_rank": 4, "qk_nope_head_dim": 2,
                  "qk_rope_head_dim": 2, "v_head_dim": 3, "rope_interleaved": true, "causal": true},
         "inputs": {"x": "x.npy", "w_q": "w_q.npy", "w_kv_a": "w_kv_a.npy", "kv_a_norm": "kv_a_norm.npy",
                    "w_kv_b": "w_kv_b.npy", "w_o": "w_o.npy"},
         "expected": {"y": "y.npy"}}
        """.trimIndent()) as ObjectNode

    fun mlaTensors(): MutableMap<String, Tensor> = mutableMapOf("x" to floats(1, 3, 8), "w_q" to floats(8, 8), "w_kv_a" to floats(6, 8),
        "kv_a_norm" to floats(4), "w_kv_b" to floats(10, 4), "w_o" to floats(8, 6), "y" to floats(1, 3, 8))

    fun ObjectNode.obj(key: String) = get(key) as ObjectNode

    /** Reads [dir] expecting rejection; checks the message names [file] (relative to dir) and contains [parts]. */
    fun rejects(dir: Path, file: String = "case.json", vararg parts: String): GoldenFormatException {
        val e = shouldThrow<GoldenFormatException> { GoldenCase.read(dir) }
        val named = dir.resolve(file).toAbsolutePath().normalize()
        withClue(e.message) {
            (e.message!!.startsWith(named.toString()) || e.message!!.startsWith(dir.resolve(file).toString())) shouldBe true
            for (p in parts) e.message!! shouldContain p
        }
        return e
    }

    context("well-formed cases are read completely") {
        test("a kernel case") {
            val c = GoldenCase.read(kernelCase { obj("spec").put("causal", true).put("alignment", "top_left").put("softcap", 2.5) })
            c.shouldBeInstanceOf<GoldenCase.Kernel>()
            c.name shouldBe "k1"
            c.kind shouldBe "kernel"
            c.tolerance shouldBe Tolerance(1e-5, 1e-4)
            c.spec.qHeads() shouldBe 2
            c.spec.kvHeads() shouldBe 1
            c.spec.causal() shouldBe true
            c.spec.alignment() shouldBe Alignment.TOP_LEFT
            c.spec.softcap() shouldBe 2.5
            c.problem.qLen() shouldBe 3
            c.problem.kvLen() shouldBe 5
            c.features shouldBe listOf("mqa", "causal", "top_left", "softcap")
        }
        test("optional kernel inputs, tolerance, unknown top-level keys, and the case.json path itself") {
            val t = kernelTensors()
            t["mask"] = BoolTensor.of(BooleanArray(15) { it % 4 != 0 }, 3, 5)
            t["kv_lens"] = IntTensor.of(intArrayOf(4), 1)
            t["bias"] = floats(2, 1, 5)
            t["sinks"] = floats(2)
            t["alibi_slopes"] = floats(2)
            t["lse"] = floats(1, 2, 3)
            val dir = kernelCase(t) {
                obj("inputs").put("mask", "mask.npy").put("kv_lens", "kv_lens.npy").put("bias", "bias.npy").put("sinks", "sinks.npy")
                    .put("alibi_slopes", "alibi_slopes.npy")
                obj("expected").put("lse", "lse.npy")
                putObject("tolerance").put("atol", 2e-5).put("rtol", 3e-4)
                put("generator", "ignored: unknown top-level keys are allowed")
                obj("spec").putArray("window").add(2).add(-1)
            }
            val c = GoldenCase.read(dir.resolve("case.json")) as GoldenCase.Kernel
            c.tolerance shouldBe Tolerance(2e-5, 3e-4)
            c.spec.window() shouldBe Window(2, -1)
            c.inputs.kvLens()!!.get(0) shouldBe 4
            c.expectedLse!!.shape().toList() shouldBe listOf(1, 2, 3)
            c.features shouldBe listOf("mqa", "window", "bias", "mask", "kv_lens", "alibi", "sinks", "lse")
        }
        test("a layer case with chunks, and an MLA case") {
            val l = GoldenCase.read(layerCase { obj("spec").put("causal", true); putArray("chunks").add(2).add(1) }) as GoldenCase.Layer
            l.chunks!!.toList() shouldBe listOf(2, 1)
            (l.config as StandardLayerConfig).kvHeads() shouldBe 1
            l.features shouldBe listOf("mqa", "causal", "chunks")
            val m = GoldenCase.read(caseDir(mlaJson(), mlaTensors())) as GoldenCase.Layer
            m.features shouldBe listOf("mla", "causal")
            m.config.attentionSpec().headDim() shouldBe 4
        }
    }

    context("malformed case.json documents") {
        test("not JSON, and JSON that is not an object") {
            val d1 = kernelCase().also { Files.writeString(it.resolve("case.json"), "{\"format\": ") }
            rejects(d1, "case.json", "invalid JSON")
            val d2 = kernelCase().also { Files.writeString(it.resolve("case.json"), "[1, 2]") }
            rejects(d2, "case.json", "expected a JSON object at the top level")
            val d3 = kernelCase().also { Files.writeString(it.resolve("case.json"), "{\"name\": \"a\", \"name\": \"b\"}") }
            rejects(d3, "case.json", "invalid JSON", "Duplicate field 'name'")
        }
        test("no case.json at all") {
            val d = root.resolve("empty-folder").also { Files.createDirectories(it) }
            rejects(d, "case.json", "file not found")
        }
        test("each missing required key") {
            for (key in listOf("format", "name", "kind", "spec", "inputs", "expected")) {
                rejects(kernelCase { remove(key) }, "case.json", "missing required key '$key'")
            }
            rejects(kernelCase { obj("spec").remove("head_dim") }, "case.json", "missing required key 'spec.head_dim'")
            rejects(kernelCase { obj("inputs").remove("v") }, "case.json", "missing required input 'v'")
            rejects(kernelCase { obj("expected").remove("out") }, "case.json", "missing required expected output 'out'")
        }
        test("wrong format or kind") {
            rejects(kernelCase { put("format", "attention-golden/2") }, "case.json", "format: expected \"attention-golden/1\"")
            rejects(kernelCase { put("kind", "block") }, "case.json", "kind: expected \"kernel\" or \"layer\", got \"block\"")
        }
        test("unknown keys in spec, inputs, expected and tolerance") {
            rejects(kernelCase { obj("spec").put("heads", 2) }, "case.json", "spec: unknown key 'heads'", "allowed: q_heads")
            rejects(kernelCase { obj("inputs").put("query", "q.npy") }, "case.json", "inputs: unknown key 'query'")
            rejects(kernelCase { obj("expected").put("attn", "out.npy") }, "case.json", "expected: unknown key 'attn'")
            rejects(kernelCase { putObject("tolerance").put("atoll", 1e-3) }, "case.json", "tolerance: unknown key 'atoll'")
            // a key of another kind's spec is unknown here
            rejects(kernelCase { obj("spec").put("hidden", 8) }, "case.json", "spec: unknown key 'hidden'")
            rejects(layerCase { obj("spec").put("q_lora_rank", 0) }, "case.json", "spec: unknown key 'q_lora_rank'")
            rejects(caseDir(mlaJson().apply { obj("spec").putArray("window").add(1).add(1) }, mlaTensors()), "case.json",
                "spec: unknown key 'window'")
            rejects(caseDir(mlaJson().apply { obj("inputs").put("kv_x", "x.npy") }, mlaTensors()), "case.json",
                "inputs: unknown key 'kv_x'")
        }
        test("wrong types") {
            rejects(kernelCase { obj("spec").put("q_heads", "2") }, "case.json", "spec.q_heads: expected an integer, got a string \"2\"")
            rejects(kernelCase { obj("spec").put("head_dim", 4.5) }, "case.json", "spec.head_dim: expected an integer, got a number 4.5")
            rejects(kernelCase { obj("spec").put("head_dim", 4_000_000_000L) }, "case.json", "out of the int range")
            rejects(kernelCase { obj("spec").put("causal", "yes") }, "case.json", "spec.causal: expected true or false")
            rejects(kernelCase { obj("spec").put("scale", "0.5") }, "case.json", "spec.scale: expected a number")
            rejects(kernelCase { obj("spec").put("alignment", "center") }, "case.json", "spec.alignment: expected \"bottom_right\" or \"top_left\"")
            rejects(kernelCase { obj("spec").putArray("window").add(3) }, "case.json", "spec.window: expected [left, right], got [3]")
            rejects(kernelCase { obj("spec").putArray("window").add(3).add(-2) }, "case.json", "window.right: expected >= -1")
            rejects(kernelCase { obj("inputs").put("q", 5) }, "case.json", "inputs.q: expected a file name (string), got an integer 5")
            rejects(kernelCase { put("spec", "q_heads=2") }, "case.json", "spec: expected an object, got a string")
            rejects(kernelCase { put("name", 7) }, "case.json", "name: expected a string")
            rejects(kernelCase { putObject("tolerance").put("atol", -1.0) }, "case.json", "tolerance.atol: expected a number >= 0")
        }
        test("values the api rejects are reported with the case file") {
            rejects(kernelCase { obj("spec").put("kv_heads", 3) }, "case.json", "spec: kvHeads: expected a divisor of qHeads=2, got 3")
            rejects(kernelCase { obj("spec").put("softcap", -1.0) }, "case.json", "spec: softcap: expected a finite number >= 0")
            rejects(layerCase { obj("spec").put("variant", "mha") }, "case.json", "spec: kvHeads: expected qHeads=2 for MHA, got 1")
            val t = kernelTensors().also { it["kv_lens"] = IntTensor.of(intArrayOf(9), 1) }
            rejects(kernelCase(t) { obj("inputs").put("kv_lens", "kv_lens.npy") }, "case.json", "inputs do not fit the spec: kvLens[0]: expected in [0, 5], got 9")
            val nonFinite = kernelTensors().also { it["q"] = FloatTensor.of(FloatArray(24) { if (it == 5) Float.NaN else 0f }, 1, 2, 3, 4) }
            rejects(kernelCase(nonFinite), "case.json", "q[0, 0, 1, 1]: expected a finite value")
        }
        test("shapes that do not match the spec name the .npy file") {
            rejects(kernelCase { obj("spec").put("head_dim", 8) }, "q.npy",
                "inputs.q: shape [1, 2, 3, 4] does not match the spec: expected [B, q_heads, q_len, head_dim] = [1, 2, 3, 8]")
            val t = kernelTensors().also { it["v"] = floats(1, 1, 4, 4) }
            rejects(kernelCase(t), "v.npy", "inputs.v: shape [1, 1, 4, 4] does not match the spec", "[B, kv_heads, kv_len, v_head_dim] = [1, 1, 5, 4]")
            rejects(kernelCase { obj("spec").put("v_head_dim", 6) }, "v.npy", "v_head_dim] = [1, 1, 5, 6]")
            val o = kernelTensors().also { it["out"] = floats(1, 2, 3, 5) }
            rejects(kernelCase(o), "out.npy", "expected.out: shape [1, 2, 3, 5]")
            val s = kernelTensors().also { it["sinks"] = floats(3) }
            rejects(kernelCase(s) { obj("inputs").put("sinks", "sinks.npy") }, "sinks.npy", "[q_heads] = [2]")
            val q3 = kernelTensors().also { it["q"] = floats(2, 3, 4) }
            rejects(kernelCase(q3), "q.npy", "inputs.q: expected shape [B, q_heads, q_len, head_dim], got [2, 3, 4]")
            val m = kernelTensors().also { it["mask"] = BoolTensor.of(BooleanArray(4), 2, 2) }
            rejects(kernelCase(m) { obj("inputs").put("mask", "mask.npy") }, "mask.npy",
                "inputs.mask: shape [2, 2] does not broadcast to [B, q_heads, q_len, kv_len] = [1, 2, 3, 5]")
            val b = kernelTensors().also { it["bias"] = floats(2, 2, 3, 5) }
            rejects(kernelCase(b) { obj("inputs").put("bias", "bias.npy") }, "bias.npy", "inputs.bias: shape [2, 2, 3, 5] does not broadcast")
            rejects(layerCase { obj("spec").put("hidden", 16) }, "x.npy", "[B, q_len, hidden] = [1, 3, 16]")
            val w = layerTensors().also { it["wk"] = floats(8, 8) }
            rejects(layerCase(w), "wk.npy", "inputs.wk: shape [8, 8] does not match the spec: expected [kv_heads*head_dim, hidden] = [4, 8]")
        }
        test("wrong dtypes name the .npy file") {
            val t = kernelTensors().also { it["mask"] = floats(3, 5) }
            rejects(kernelCase(t) { obj("inputs").put("mask", "mask.npy") }, "mask.npy", "inputs.mask: expected bool (|b1), got FLOAT32")
            val i = kernelTensors().also { it["kv_lens"] = floats(1) }
            rejects(kernelCase(i) { obj("inputs").put("kv_lens", "kv_lens.npy") }, "kv_lens.npy", "expected int (<i4 or <i8)")
            val q = kernelTensors().also { it["q"] = IntTensor.of(IntArray(24), 1, 2, 3, 4) }
            rejects(kernelCase(q), "q.npy", "inputs.q: expected float (<f4, <f8, <f2, <u2 named in \"bfloat16\", or |i1 with a scale), got INT32")
        }
        test("missing or unreadable .npy files, and files outside the case folder") {
            rejects(kernelCase { obj("inputs").put("k", "missing.npy") }, "missing.npy", "file not found", "inputs.k of")
            val bad = kernelCase().also { Files.write(it.resolve("k.npy"), byteArrayOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)) }
            rejects(bad, "k.npy", "bad magic", "inputs.k of")
            rejects(kernelCase { obj("inputs").put("k", "../k.npy") }, "case.json", "inputs.k: \"../k.npy\" is not a file inside the case folder")
        }
        test("expected values that can never match") {
            val t = kernelTensors().also { it["out"] = FloatTensor.of(FloatArray(24) { if (it == 3) Float.NaN else 0f }, 1, 2, 3, 4) }
            rejects(kernelCase(t), "out.npy", "expected.out holds NaN at flat index 3")
        }
        test("layer weights and biases") {
            rejects(layerCase { obj("spec").put("bias", true) }, "case.json", "missing required input 'bq' (spec.bias is true)")
            val t = layerTensors().also { it["bq"] = floats(8) }
            rejects(layerCase(t) { obj("inputs").put("bq", "bq.npy") }, "case.json", "inputs.bq is given but spec.bias is false")
            rejects(layerCase { obj("inputs").remove("wo") }, "case.json", "missing required input 'wo'")
            rejects(caseDir(mlaJson().apply { obj("spec").remove("rope_interleaved") }, mlaTensors()), "case.json",
                "missing required key 'spec.rope_interleaved'")
            rejects(caseDir(mlaJson().apply { obj("spec").put("q_lora_rank", 4) }, mlaTensors()), "case.json",
                "inputs.w_q is given but spec.q_lora_rank is 4")
            rejects(caseDir(mlaJson().apply { obj("spec").put("qk_rope_head_dim", 3) }, mlaTensors()), "case.json",
                "spec: qkRopeHeadDim: expected an even number >= 0, got 3")
        }
        test("chunks") {
            rejects(layerCase { putArray("chunks").add(1).add(1) }, "case.json", "chunks: sizes [1, 1] add up to 2, expected q_len = 3")
            rejects(layerCase { putArray("chunks").add(3).add(0) }, "case.json", "chunks[1]: expected a size >= 1, got 0")
            rejects(layerCase { putArray("chunks").add(2).add("1") }, "case.json", "chunks[1]: expected an integer")
            rejects(layerCase { put("chunks", 3) }, "case.json", "chunks: expected an array of integers")
            val t = layerTensors().also { it["kv_x"] = floats(1, 4, 8) }
            rejects(layerCase(t) { obj("inputs").put("kv_x", "kv_x.npy"); putArray("chunks").add(3) }, "case.json",
                "chunks: only for self-attention, but inputs has kv_x")
            rejects(layerCase { obj("spec").put("causal", true).put("alignment", "top_left"); putArray("chunks").add(3) }, "case.json",
                "chunks: chunked decoding implies alignment bottom_right")
            rejects(kernelCase { putArray("chunks").add(3) }, "case.json", "chunks: only layer self-attention cases may have chunks")
        }
    }
})

private inline fun <T> withClue(clue: Any?, block: () -> T): T = io.kotest.assertions.withClue(clue.toString(), block)
