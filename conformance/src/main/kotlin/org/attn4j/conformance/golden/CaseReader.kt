package org.attn4j.conformance.golden

import com.fasterxml.jackson.core.JsonProcessingException
import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.node.ObjectNode
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.Feature
import org.attn4j.api.Int8Tensor
import org.attn4j.api.IntTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerVariant
import org.attn4j.api.LayerWeights
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import org.attn4j.api.Window
import java.io.IOException
import java.nio.file.Files
import java.nio.file.InvalidPathException
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.util.OptionalDouble

/** The keys FORMAT.md allows, per kind / variant. */
internal object CaseKeys {
    val kernelSpec = listOf("q_heads", "kv_heads", "head_dim", "v_head_dim", "scale", "causal", "alignment", "window", "softcap")
    val standardSpec = listOf("variant", "hidden", "q_heads", "kv_heads", "head_dim", "bias", "causal", "alignment", "window",
        "softcap", "scale")
    val mlaSpec = listOf("variant", "hidden", "q_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
        "v_head_dim", "rope_theta", "rope_interleaved", "rms_eps", "position_offset", "causal", "alignment", "softcap", "scale")
    val kernelInputs = listOf("q", "k", "v", "k_scale", "v_scale", "kv_lens", "mask", "bias", "alibi_slopes", "sinks")

    /** The inputs that may be stored in a reduced type (FORMAT.md "Reduced-precision and quantized inputs"). */
    val reducible = listOf("q", "k", "v")

    /** The scale input of each int8-capable input. */
    val scaleOf = mapOf("k" to "k_scale", "v" to "v_scale")
    val standardInputs = listOf("x", "kv_x", "key_padding_mask", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")
    val mlaInputs = listOf("x", "w_q", "w_q_a", "q_a_norm", "w_q_b", "w_kv_a", "kv_a_norm", "w_kv_b", "w_o")
    val kernelExpected = listOf("out", "lse")
    val layerExpected = listOf("y")
    val tolerance = listOf("atol", "rtol")
}

/** Reads one case folder; every error names `case.json` or the `.npy` file at fault. */
internal class CaseReader(val dir: Path, val limits: GoldenLimits) {
    val caseFile: Path = dir.resolve(GoldenCase.CASE_FILE)

    fun fail(problem: String, cause: Throwable? = null): Nothing = throw GoldenFormatException(caseFile, problem, cause)

    /** Runs an api constructor / validation, turning its [AttentionException] into one naming the case file. */
    inline fun <T> api(what: String, block: () -> T): T = try {
        block()
    } catch (e: GoldenFormatException) {
        throw e
    } catch (e: AttentionException) {
        fail("$what: ${e.message}", e)
    }

    fun read(): GoldenCase {
        if (!Files.isDirectory(dir)) throw GoldenFormatException(dir, "not a directory")
        val jsonBytes = GoldenFiles.requireRegularFile(caseFile)
        if (jsonBytes > limits.maxJsonBytes) {
            fail("$jsonBytes bytes, over the limit of ${limits.maxJsonBytes} for a case.json " +
                "(raise it with -D${GoldenLimits.MAX_JSON_BYTES_PROPERTY}=<bytes>)")
        }
        val root: JsonNode = try {
            // Bounded even if the file grew since its size was checked.
            val text = Files.newInputStream(caseFile).use { it.readNBytes(minOf(limits.maxJsonBytes, Int.MAX_VALUE - 9L).toInt() + 1) }
            if (text.size > limits.maxJsonBytes) fail("grew past the limit of ${limits.maxJsonBytes} bytes while being read")
            CaseJson.MAPPER.readTree(text)
        } catch (e: NoSuchFileException) {
            fail("file not found", e)
        } catch (e: java.io.FileNotFoundException) {
            fail("file not found", e)
        } catch (e: JsonProcessingException) {
            fail("invalid JSON: ${e.originalMessage}" + (e.location?.let { " (line ${it.lineNr}, column ${it.columnNr})" } ?: ""), e)
        } catch (e: IOException) {
            fail("cannot read: $e", e)
        }
        if (root !is ObjectNode) fail("expected a JSON object at the top level, got ${CaseJson.describe(root)}")
        val top = CaseObject(root, "", this)
        // Unknown top-level keys are ignored (FORMAT.md); the required ones must be there with the right type.
        val format = top.string("format") ?: fail("missing required key 'format'")
        if (format != GoldenCase.FORMAT) fail("format: expected \"${GoldenCase.FORMAT}\", got \"${SafeText.escape(format)}\"")
        val name = top.string("name") ?: fail("missing required key 'name'")
        if (name.isBlank()) fail("name: expected a non-empty string, got \"${SafeText.escape(name)}\"")
        val source = top.string("source") ?: ""
        val kind = top.string("kind") ?: fail("missing required key 'kind'")
        val spec = top.obj("spec") ?: fail("missing required key 'spec'")
        val inputs = top.obj("inputs") ?: fail("missing required key 'inputs'")
        val expected = top.obj("expected") ?: fail("missing required key 'expected'")
        val tolerance = top.obj("tolerance")?.let { readTolerance(it) } ?: Tolerance.DEFAULT
        val chunks = top.intArray("chunks")
        val bfloat16 = readBfloat16(top)
        return when (kind) {
            GoldenCase.KERNEL -> {
                if (chunks != null) fail("chunks: only layer self-attention cases may have chunks, this is a kernel case")
                readKernel(name, source, tolerance, spec, inputs, expected, bfloat16)
            }
            GoldenCase.LAYER -> {
                if (bfloat16.isNotEmpty()) {
                    fail("bfloat16: names ${bfloat16.joinToString { SafeText.quote(it) }}, but layer cases keep float inputs " +
                        "(reduced-precision types are allowed only for q, k and v of kernel cases)")
                }
                readLayer(name, source, tolerance, spec, inputs, expected, chunks)
            }
            else -> fail("kind: expected \"kernel\" or \"layer\", got \"${SafeText.escape(kind)}\"")
        }
    }

    /** The top-level `"bfloat16"` list: the inputs whose `<u2` data are bfloat16 bit patterns (empty when absent). */
    fun readBfloat16(top: CaseObject): Set<String> {
        val node = top.get("bfloat16") ?: return emptySet()
        if (!node.isArray) fail("bfloat16: expected an array of input names, got ${CaseJson.describe(node)}")
        val names = LinkedHashSet<String>()
        for (i in 0 until node.size()) {
            val e = node.get(i)
            if (!e.isTextual) fail("bfloat16[$i]: expected an input name (string), got ${CaseJson.describe(e)}")
            if (!names.add(e.textValue())) fail("bfloat16: ${SafeText.quote(e.textValue())} is named twice")
        }
        return names
    }

    fun readTolerance(t: CaseObject): Tolerance {
        t.checkKeys(CaseKeys.tolerance)
        val atol = t.number("atol") ?: Tolerance.DEFAULT.atol
        val rtol = t.number("rtol") ?: Tolerance.DEFAULT.rtol
        if (atol < 0) fail("tolerance.atol: expected a number >= 0, got $atol")
        if (rtol < 0) fail("tolerance.rtol: expected a number >= 0, got $rtol")
        return Tolerance(atol, rtol)
    }

    // ------------------------------------------------------------------ kernel

    fun readKernel(name: String, source: String, tol: Tolerance, s: CaseObject, inObj: CaseObject, exObj: CaseObject,
                   bfloat16: Set<String>): GoldenCase.Kernel {
        s.checkKeys(CaseKeys.kernelSpec)
        val files = fileMap(inObj, CaseKeys.kernelInputs)
        val exFiles = fileMap(exObj, CaseKeys.kernelExpected)
        for (n in bfloat16) {
            if (n !in CaseKeys.reducible) {
                fail("bfloat16: names ${SafeText.quote(n)}, but only q, k and v may be bfloat16 (reduced-precision types are " +
                    "allowed only for q, k and v of kernel cases)")
            }
            if (n !in files) fail("bfloat16: names ${SafeText.quote(n)}, which is not an input of this case")
        }
        for ((key, scale) in CaseKeys.scaleOf) {
            if (scale in files && key !in files) fail("inputs.$scale is given without inputs.$key")
        }
        val qHeads = s.int("q_heads") ?: fail("missing required key 'spec.q_heads'")
        val kvHeads = s.int("kv_heads") ?: fail("missing required key 'spec.kv_heads'")
        val headDim = s.int("head_dim") ?: fail("missing required key 'spec.head_dim'")
        val spec = api("spec") {
            val b = AttentionSpec.builder(qHeads, kvHeads, headDim)
            s.int("v_head_dim")?.let { b.vHeadDim(it) }
            s.number("scale")?.let { b.scale(it) }
            b.causal(s.bool("causal") ?: false)
            s.alignment()?.let { b.alignment(it) }
            s.window()?.let { b.window(it) }
            s.number("softcap")?.let { b.softcap(it) }
            b.build()
        }
        for (k in listOf("q", "k", "v")) if (k !in files) fail("missing required input '$k'")
        if ("out" !in exFiles) fail("missing required expected output 'out'")

        val q = real(files, "q", bfloat16)
        if (q.rank() != 4) shapeError("inputs", "q", q, "[B, q_heads, q_len, head_dim]")
        val batch = q.size(0)
        val qLen = q.size(2)
        checkShape("inputs", "q", q, "B" to batch, "q_heads" to qHeads, "q_len" to qLen, "head_dim" to headDim)
        val kRaw = real(files, "k", bfloat16)
        if (kRaw.rank() != 4) shapeError("inputs", "k", kRaw, "[B, kv_heads, kv_len, head_dim]")
        val kvLen = kRaw.size(2)
        checkShape("inputs", "k", kRaw, "B" to batch, "kv_heads" to kvHeads, "kv_len" to kvLen, "head_dim" to headDim)
        val k = scaled(files, "k", kRaw)
        val vRaw = real(files, "v", bfloat16)
        checkShape("inputs", "v", vRaw, "B" to batch, "kv_heads" to kvHeads, "kv_len" to kvLen, "v_head_dim" to spec.vHeadDim())
        val v = scaled(files, "v", vRaw)
        var inputs = AttentionInputs.of(q, k, v)
        files["kv_lens"]?.let {
            val t = load("inputs", "kv_lens", it) as? IntTensor ?: dtypeError("inputs", "kv_lens", it, "int (<i4 or <i8)")
            checkShape("inputs", "kv_lens", t, "B" to batch)
            inputs = inputs.withKvLens(t)
        }
        val scores = intArrayOf(batch, qHeads, qLen, kvLen)
        files["mask"]?.let { inputs = inputs.withMask(bool("inputs", "mask", it).also { t -> checkBroadcast("mask", t, scores) }) }
        files["bias"]?.let { inputs = inputs.withBias(float(files, "bias").also { t -> checkBroadcast("bias", t, scores) }) }
        files["alibi_slopes"]?.let {
            val t = float(files, "alibi_slopes")
            checkShape("inputs", "alibi_slopes", t, "q_heads" to qHeads)
            inputs = inputs.withAlibiSlopes(t)
        }
        files["sinks"]?.let {
            val t = float(files, "sinks")
            checkShape("inputs", "sinks", t, "q_heads" to qHeads)
            inputs = inputs.withSinks(t)
        }
        val problem = api("inputs do not fit the spec") { inputs.validate(spec) }

        val out = float(exFiles, "out", "expected")
        checkShape("expected", "out", out, "B" to batch, "q_heads" to qHeads, "q_len" to qLen, "v_head_dim" to spec.vHeadDim())
        noNaN("out", exFiles.getValue("out"), out)
        val lse = exFiles["lse"]?.let {
            val t = float(exFiles, "lse", "expected")
            checkShape("expected", "lse", t, "B" to batch, "q_heads" to qHeads, "q_len" to qLen)
            noNaN("lse", it, t)
            t
        }
        val features = buildList {
            val f = problem.features()
            if (f.contains(Feature.GROUPED_HEADS)) add(if (kvHeads == 1) "mqa" else "gqa")
            if (f.contains(Feature.CAUSAL)) add("causal")
            if (f.contains(Feature.TOP_LEFT)) add("top_left")
            if (f.contains(Feature.WINDOW)) add("window")
            if (f.contains(Feature.SOFTCAP)) add("softcap")
            if (f.contains(Feature.CUSTOM_SCALE)) add("scale")
            if (f.contains(Feature.V_HEAD_DIM)) add("dv!=d")
            if (f.contains(Feature.BIAS)) add("bias")
            if (f.contains(Feature.MASK)) add("mask")
            if (f.contains(Feature.KV_LENS)) add("kv_lens")
            if (f.contains(Feature.ALIBI)) add("alibi")
            if (f.contains(Feature.SINKS)) add("sinks")
            if (f.contains(Feature.EMPTY)) add("empty")
            if (lse != null) add("lse")
            if (out is DoubleTensor) add("f64")
            val stored = listOf(q, k, v).map { it.dtype() }
            if (DType.FLOAT16 in stored) add("f16")
            if (DType.BFLOAT16 in stored) add("bf16")
            if (DType.INT8 in stored) add("int8")
        }
        return GoldenCase.Kernel(dir, name, source, tol, features, spec, inputs, problem, out, lse)
    }

    // ------------------------------------------------------------------ layer

    fun readLayer(name: String, source: String, tol: Tolerance, s: CaseObject, inObj: CaseObject, exObj: CaseObject, chunks: IntArray?): GoldenCase.Layer {
        val variantName = s.string("variant") ?: fail("missing required key 'spec.variant'")
        val variant = when (variantName) {
            "mha" -> LayerVariant.MHA
            "mqa" -> LayerVariant.MQA
            "gqa" -> LayerVariant.GQA
            "mla" -> LayerVariant.MLA
            else -> fail("spec.variant: expected \"mha\", \"mqa\", \"gqa\" or \"mla\", got \"${SafeText.escape(variantName)}\"")
        }
        val mla = variant == LayerVariant.MLA
        s.checkKeys(if (mla) CaseKeys.mlaSpec else CaseKeys.standardSpec)
        val files = fileMap(inObj, if (mla) CaseKeys.mlaInputs else CaseKeys.standardInputs)
        val exFiles = fileMap(exObj, CaseKeys.layerExpected)
        if ("x" !in files) fail("missing required input 'x'")
        if ("y" !in exFiles) fail("missing required expected output 'y'")

        val hidden = s.int("hidden") ?: fail("missing required key 'spec.hidden'")
        val qHeads = s.int("q_heads") ?: fail("missing required key 'spec.q_heads'")
        val config: LayerConfig = if (mla) {
            fun req(key: String) = s.int(key) ?: fail("missing required key 'spec.$key'")
            val qLora = req("q_lora_rank")
            val kvLora = req("kv_lora_rank")
            val nope = req("qk_nope_head_dim")
            val rope = req("qk_rope_head_dim")
            val dv = req("v_head_dim")
            // FORMAT.md gives no default for the pairing, and guessing it wrong changes every output.
            val interleaved = s.bool("rope_interleaved") ?: fail("missing required key 'spec.rope_interleaved'")
            api("spec") {
                MlaLayerConfig(hidden, qHeads, qLora, kvLora, nope, rope, dv, s.number("rope_theta") ?: 10000.0, interleaved,
                    s.number("rms_eps") ?: 1e-6, s.int("position_offset") ?: 0, s.bool("causal") ?: false,
                    s.alignment() ?: Alignment.BOTTOM_RIGHT, s.number("softcap") ?: 0.0,
                    s.number("scale")?.let { OptionalDouble.of(it) } ?: OptionalDouble.empty())
            }
        } else {
            val kvHeads = s.int("kv_heads") ?: fail("missing required key 'spec.kv_heads'")
            val headDim = s.int("head_dim") ?: fail("missing required key 'spec.head_dim'")
            api("spec") {
                StandardLayerConfig(variant, hidden, qHeads, kvHeads, headDim, s.bool("bias") ?: false, s.bool("causal") ?: false,
                    s.alignment() ?: Alignment.BOTTOM_RIGHT, s.window() ?: Window.NONE, s.number("softcap") ?: 0.0,
                    s.number("scale")?.let { OptionalDouble.of(it) } ?: OptionalDouble.empty())
            }
        }

        val x = float(files, "x")
        if (x.rank() != 3) shapeError("inputs", "x", x, "[B, q_len, hidden]")
        val batch = x.size(0)
        val qLen = x.size(1)
        checkShape("inputs", "x", x, "B" to batch, "q_len" to qLen, "hidden" to hidden)
        if (batch < 1) fail("inputs.x: expected batch B >= 1, got shape ${x.shape().contentToString()}")
        var kvLen = qLen
        val kvX = files["kv_x"]?.let {
            val t = float(files, "kv_x")
            if (t.rank() != 3) shapeError("inputs", "kv_x", t, "[B, kv_len, hidden]")
            kvLen = t.size(1)
            checkShape("inputs", "kv_x", t, "B" to batch, "kv_len" to kvLen, "hidden" to hidden)
            api("inputs.kv_x") { Tensors.requireFinite("kv_x", t) }
            t
        }
        api("inputs.x") { Tensors.requireFinite("x", x) }
        val keyPad = files["key_padding_mask"]?.let {
            val t = bool("inputs", "key_padding_mask", it)
            checkShape("inputs", "key_padding_mask", t, "B" to batch, "kv_len" to kvLen)
            t
        }

        val weights: LayerWeights = if (config is MlaLayerConfig) {
            readMlaWeights(config, files)
        } else {
            readStandardWeights(config as StandardLayerConfig, files)
        }
        api("weights") { weights.validate(config) }

        val y = float(exFiles, "y", "expected")
        checkShape("expected", "y", y, "B" to batch, "q_len" to qLen, "hidden" to hidden)
        noNaN("y", exFiles.getValue("y"), y)

        if (chunks != null) {
            if (kvX != null) fail("chunks: only for self-attention, but inputs has kv_x (cross-attention)")
            if (chunks.isEmpty()) fail("chunks: expected at least one chunk size, got []")
            chunks.forEachIndexed { i, c -> if (c < 1) fail("chunks[$i]: expected a size >= 1, got $c") }
            val sum = chunks.fold(0L) { a, c -> a + c }
            if (sum != qLen.toLong()) fail("chunks: sizes ${chunks.contentToString()} add up to $sum, expected q_len = $qLen")
            if (config.attentionSpec().alignment() == Alignment.TOP_LEFT) {
                fail("chunks: chunked decoding implies alignment bottom_right, but spec.alignment is top_left")
            }
        }

        val features = buildList {
            if (config is MlaLayerConfig) add("mla") else {
                val c = config as StandardLayerConfig
                if (c.kvHeads() != c.qHeads()) add(if (c.kvHeads() == 1) "mqa" else "gqa")
            }
            val a = config.attentionSpec()
            if (a.causal()) add("causal")
            if ((a.causal() || a.hasWindow()) && a.alignment() == Alignment.TOP_LEFT) add("top_left")
            if (a.hasWindow()) add("window")
            if (a.hasSoftcap()) add("softcap")
            if (s.number("scale") != null) add("scale")
            if (config is MlaLayerConfig && config.qLoraRank() > 0) add("q_lora")
            if (config is StandardLayerConfig && config.bias()) add("proj_bias")
            if (kvX != null) add("cross")
            if (keyPad != null) add("keypad")
            if (chunks != null) add("chunks")
            if (y is DoubleTensor) add("f64")
        }
        return GoldenCase.Layer(dir, name, source, tol, features, config, weights, x, kvX, keyPad, y, chunks)
    }

    fun readStandardWeights(c: StandardLayerConfig, files: Map<String, String>): StandardLayerWeights {
        val q = c.qHeads() * c.headDim()
        val kv = c.kvHeads() * c.headDim()
        val need = mutableListOf("wq", "wk", "wv", "wo")
        val biases = listOf("bq", "bk", "bv", "bo")
        if (c.bias()) need += biases else biases.filter { it in files }.forEach {
            fail("inputs.$it is given but spec.bias is false (or absent)")
        }
        need.filter { it !in files }.forEach { fail("missing required input '$it'" + if (it in biases) " (spec.bias is true)" else "") }
        fun w(key: String, rows: Pair<String, Int>, cols: Pair<String, Int>): Tensor =
            float(files, key).also { checkShape("inputs", key, it, rows, cols) }
        fun b(key: String, len: Pair<String, Int>): Tensor? =
            if (!c.bias()) null else float(files, key).also { checkShape("inputs", key, it, len) }
        return StandardLayerWeights(
            w("wq", "q_heads*head_dim" to q, "hidden" to c.hidden()), b("bq", "q_heads*head_dim" to q),
            w("wk", "kv_heads*head_dim" to kv, "hidden" to c.hidden()), b("bk", "kv_heads*head_dim" to kv),
            w("wv", "kv_heads*head_dim" to kv, "hidden" to c.hidden()), b("bv", "kv_heads*head_dim" to kv),
            w("wo", "hidden" to c.hidden(), "q_heads*head_dim" to q), b("bo", "hidden" to c.hidden()))
    }

    fun readMlaWeights(c: MlaLayerConfig, files: Map<String, String>): MlaLayerWeights {
        val qOut = c.qHeads() * c.qkHeadDim()
        val plain = listOf("w_q")
        val lora = listOf("w_q_a", "q_a_norm", "w_q_b")
        val (need, forbidden, why) = if (c.qLoraRank() == 0) Triple(plain, lora, "spec.q_lora_rank is 0")
        else Triple(lora, plain, "spec.q_lora_rank is ${c.qLoraRank()}")
        forbidden.filter { it in files }.forEach { fail("inputs.$it is given but $why") }
        (need + listOf("w_kv_a", "kv_a_norm", "w_kv_b", "w_o")).filter { it !in files }.forEach {
            fail("missing required input '$it'" + if (it in need) " ($why)" else "")
        }
        fun t(key: String, vararg dims: Pair<String, Int>): Tensor? =
            if (key !in files) null else float(files, key).also { checkShape("inputs", key, it, *dims) }
        val qk = "q_heads*(qk_nope_head_dim+qk_rope_head_dim)" to qOut
        return MlaLayerWeights(
            t("w_q", qk, "hidden" to c.hidden()),
            t("w_q_a", "q_lora_rank" to c.qLoraRank(), "hidden" to c.hidden()),
            t("q_a_norm", "q_lora_rank" to c.qLoraRank()),
            t("w_q_b", qk, "q_lora_rank" to c.qLoraRank()),
            t("w_kv_a", "kv_lora_rank+qk_rope_head_dim" to c.latentWidth(), "hidden" to c.hidden()),
            t("kv_a_norm", "kv_lora_rank" to c.kvLoraRank()),
            t("w_kv_b", "q_heads*(qk_nope_head_dim+v_head_dim)" to c.qHeads() * (c.qkNopeHeadDim() + c.vHeadDim()),
                "kv_lora_rank" to c.kvLoraRank()),
            t("w_o", "hidden" to c.hidden(), "q_heads*v_head_dim" to c.qHeads() * c.vHeadDim()))
    }

    // ------------------------------------------------------------------ tensors

    /** The `inputs` / `expected` object as key -> file name, after rejecting unknown keys and non-string values. */
    fun fileMap(o: CaseObject, allowed: List<String>): Map<String, String> {
        o.checkKeys(allowed)
        return o.node.properties().associate { (k, v) ->
            if (!v.isTextual || v.textValue().isEmpty()) fail("${o.path}$k: expected a file name (string), got ${CaseJson.describe(v)}")
            k to v.textValue()
        }
    }

    /** Where `inputs.k` (etc.) is; it must stay inside the case folder. */
    fun resolve(section: String, key: String, file: String): Path {
        val root = dir.toAbsolutePath().normalize()
        val p = try {
            root.resolve(file).normalize()
        } catch (e: InvalidPathException) { // e.g. a NUL character
            fail("$section.$key: \"${SafeText.escape(file)}\" is not a valid file name (${SafeText.escape(e.reason ?: "")})", e)
        }
        if (!p.startsWith(root) || p == root) fail("$section.$key: \"${SafeText.escape(file)}\" is not a file inside the case folder")
        return p
    }

    val loaded = HashMap<Path, Tensor>()

    /** Sum of the sizes of the `.npy` files read so far, against [GoldenLimits.maxCaseBytes]. */
    var caseBytes = 0L

    fun load(section: String, key: String, file: String): Tensor {
        val p = resolve(section, key, file)
        return loaded.getOrPut(p) {
            try {
                caseBytes += GoldenFiles.requireRegularFile(p)
                if (caseBytes > limits.maxCaseBytes) {
                    throw GoldenFormatException(p, "the case's .npy files reach $caseBytes bytes with this one, over the limit of " +
                        "${limits.maxCaseBytes} per case (raise it with -D${GoldenLimits.MAX_CASE_BYTES_PROPERTY}=<bytes>)")
                }
                Npy.read(p, limits)
            } catch (e: GoldenFormatException) {
                throw GoldenFormatException(e.file, "${e.problem} ($section.$key of $caseFile)", e)
            }
        }
    }

    fun float(files: Map<String, String>, key: String, section: String = "inputs"): Tensor {
        val file = files.getValue(key)
        val t = load(section, key, file)
        if (!t.dtype().isFloating) {
            dtypeError(section, key, file, "float (<f4 or <f8)",
                if (t.dtype().isReduced) ": reduced-precision types are allowed only for q, k and v of kernel cases" else "")
        }
        return t
    }

    /**
     * q, k or v in any type FORMAT.md allows for them: float32/64, float16 (`<f2`), bfloat16 (`<u2` named in
     * [bfloat16]) or int8 (`|i1`, returned with unit scales: [scaled] attaches the case's scales once the shape is checked).
     */
    fun real(files: Map<String, String>, key: String, bfloat16: Set<String>): Tensor {
        val file = files.getValue(key)
        val t = load("inputs", key, file)
        val named = key in bfloat16
        fun wrong(problem: String): Nothing = throw GoldenFormatException(resolve("inputs", key, file), "inputs.$key: $problem (in $caseFile)")
        when (t.dtype()) {
            DType.BFLOAT16 -> if (!named) {
                wrong("<u2 data must be named in the top-level \"bfloat16\" list (NumPy has no bfloat16; FORMAT.md stores its bit " +
                    "patterns as <u2), but the list ${if (bfloat16.isEmpty()) "is absent" else "names only " + bfloat16.joinToString()}")
            }
            DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.INT8 -> if (named) {
                wrong("named in \"bfloat16\", so expected <u2 bit patterns, got ${t.dtype()} (${NpyDtype.of(t).descr})")
            }
            else -> dtypeError("inputs", key, file, "float (<f4, <f8, <f2, <u2 named in \"bfloat16\", or |i1 with a scale)")
        }
        if (t.dtype() == DType.INT8 && key !in CaseKeys.scaleOf) {
            wrong("int8 (|i1) is not allowed: FORMAT.md gives scales only for k and v (k_scale, v_scale)")
        }
        return t
    }

    /**
     * [raw] (k or v, shape already checked) with its scale: an int8 tensor gets `<key>_scale` `[B, kv_heads, kv_len]`
     * as the scale of each row of its last axis (value `raw[b, h, t, i] * scale[b, h, t]`); any other type must come
     * without a scale.
     */
    fun scaled(files: Map<String, String>, key: String, raw: Tensor): Tensor {
        val scaleKey = CaseKeys.scaleOf.getValue(key)
        val scaleFile = files[scaleKey]
        if (raw !is Int8Tensor) {
            if (scaleFile != null) {
                fail("inputs.$scaleKey is given but inputs.$key is ${raw.dtype()} (${NpyDtype.of(raw).descr}), not int8 (|i1): " +
                    "a scale belongs to a quantized tensor")
            }
            return raw
        }
        if (scaleFile == null) {
            throw GoldenFormatException(resolve("inputs", key, files.getValue(key)),
                "inputs.$key is int8 (|i1) but the case has no inputs.$scaleKey (float, [B, kv_heads, kv_len]) (in $caseFile)")
        }
        val s = float(files, scaleKey)
        checkShape("inputs", scaleKey, s, "B" to raw.size(0), "kv_heads" to raw.size(1), "kv_len" to raw.size(2))
        // C order: the rows of raw's last axis are (b, h, t) in the same order as the scale's elements.
        val d = s.toDoubleArray()
        val scales = FloatArray(d.size)
        for (i in d.indices) {
            val x = d[i]
            fun bad(why: String): Nothing = throw GoldenFormatException(resolve("inputs", scaleKey, scaleFile),
                "inputs.$scaleKey${Npy.indexOf(i, s.shape())} = $x: $why (in $caseFile)")
            if (!x.isFinite()) bad("expected a finite scale >= 0")
            if (x < 0) bad("expected a scale >= 0 (scale = max|x| / 127)")
            scales[i] = x.toFloat()
            if (scales[i].toDouble() != x) bad("not a float32 value (int8 scales are float32; write them as <f4)")
        }
        val bytes = raw.copy().data()
        return api("inputs.$key") { Int8Tensor.of(bytes, scales, *raw.shape()) }
    }

    fun bool(section: String, key: String, file: String): BoolTensor =
        load(section, key, file) as? BoolTensor ?: dtypeError(section, key, file, "bool (|b1)")

    fun dtypeError(section: String, key: String, file: String, want: String, why: String = ""): Nothing {
        val t = load(section, key, file)
        throw GoldenFormatException(resolve(section, key, file), "$section.$key: expected $want, got ${t.dtype()}$why (in $caseFile)")
    }

    fun shapeError(section: String, key: String, t: Tensor, want: String): Nothing =
        throw GoldenFormatException(resolve(section, key, fileOf(section, key)),
            "$section.$key: expected shape $want, got ${t.shape().contentToString()} (in $caseFile)")

    /** Fails unless [t] has exactly the given dims; the message spells out which spec values the shape came from. */
    fun checkShape(section: String, key: String, t: Tensor, vararg dims: Pair<String, Int>) {
        val expected = IntArray(dims.size) { dims[it].second }
        if (t.shape().contentEquals(expected)) return
        val names = dims.joinToString(", ", "[", "]") { it.first }
        throw GoldenFormatException(resolve(section, key, fileOf(section, key)),
            "$section.$key: shape ${t.shape().contentToString()} does not match the spec: expected $names = " +
                "${expected.contentToString()} (in $caseFile)")
    }

    /** mask and bias broadcast by NumPy's rules to the score shape. */
    fun checkBroadcast(key: String, t: Tensor, scores: IntArray) {
        if (Tensor.broadcastable(t.shape(), scores)) return
        throw GoldenFormatException(resolve("inputs", key, fileOf("inputs", key)),
            "inputs.$key: shape ${t.shape().contentToString()} does not broadcast to [B, q_heads, q_len, kv_len] = " +
                "${scores.contentToString()} (in $caseFile)")
    }

    val fileNames = HashMap<String, String>()

    fun fileOf(section: String, key: String): String = fileNames["$section.$key"] ?: key

    fun noNaN(key: String, file: String, t: Tensor) {
        val d = t.toDoubleArray()
        val i = d.indexOfFirst { it.isNaN() }
        if (i >= 0) {
            throw GoldenFormatException(resolve("expected", key, file),
                "expected.$key holds NaN at flat index $i: NaN never matches, so no backend could pass (in $caseFile)")
        }
    }

    fun rememberFiles(section: String, node: ObjectNode) {
        for ((k, v) in node.properties()) if (v.isTextual) fileNames["$section.$k"] = v.textValue()
    }
}
