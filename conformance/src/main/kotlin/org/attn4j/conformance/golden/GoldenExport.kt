package org.attn4j.conformance.golden

import com.fasterxml.jackson.databind.SerializationFeature
import com.fasterxml.jackson.databind.json.JsonMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerWeights
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.util.OptionalDouble

/**
 * Writes `attention-golden/1` cases (`case.json` + one `.npy` per tensor, named after its key) so that attn4j
 * can hand cases to ONNX / PyTorch users, who read them with `numpy.load` and `json.load`. Each written case is
 * read back with [GoldenCase.read] before returning, so an export is always a valid case.
 *
 * ```
 * val out = reference.plan(problem, PlanOptions.defaults()).run(inputs)
 * GoldenExport.write(Path.of("my-case"), "my-case", "attn4j reference, seed 7", spec, inputs, out)
 * ```
 */
object GoldenExport {
    /**
     * Writes a kernel case into folder [dir] (created if needed; files of the same names are replaced).
     *
     * @param inputs   q `[B, q_heads, q_len, head_dim]`, k `[B, kv_heads, kv_len, head_dim]`, v `[B, kv_heads, kv_len, v_head_dim]`, optional tensors;
     *                 q/k/v may be float16 (`<f2`), bfloat16 (`<u2`, named in `"bfloat16"`), and k/v int8 (`|i1` plus
     *                 `k_scale`/`v_scale` `[B, kv_heads, kv_len]`: each row of the last axis must have one scale)
     * @param expected out `[B, q_heads, q_len, v_head_dim]`, and lse `[B, q_heads, q_len]` when not null
     * @param tolerance written when not null (readers default to atol 1e-5, rtol 1e-4)
     * @return the case read back
     */
    @JvmStatic
    @JvmOverloads
    fun write(dir: Path, name: String, source: String, spec: AttentionSpec, inputs: AttentionInputs, expected: AttentionOutput,
              tolerance: Tolerance? = null): GoldenCase.Kernel {
        inputs.validate(spec)
        val root = header(name, source, GoldenCase.KERNEL, tolerance)
        val s = root.putObject("spec")
        s.put("q_heads", spec.qHeads()).put("kv_heads", spec.kvHeads()).put("head_dim", spec.headDim())
            .put("v_head_dim", spec.vHeadDim())
        spec.scale().ifPresent { s.put("scale", it) }
        putMaskOptions(s, spec.causal(), spec.alignment(), spec.window(), spec.softcap())
        val files = linkedMapOf<String, Tensor>()
        val bfloat16 = mutableListOf<String>()
        for ((key, t) in listOf("q" to inputs.q(), "k" to inputs.k(), "v" to inputs.v())) {
            when {
                t is Int8Tensor -> {
                    val scaleKey = CaseKeys.scaleOf[key]
                        ?: throw AttentionException.invalid("inputs.$key", "not INT8 (FORMAT.md has scales for k and v only)", t.dtype())
                    val c = t.copy() // contiguous, one scale per row of the last axis, in (b, h, t) order
                    files[key] = c
                    files[scaleKey] = FloatTensor.of(c.scales().copyOf(), *c.shape().copyOf(3))
                }
                else -> {
                    if (t.dtype() == DType.BFLOAT16) bfloat16 += key
                    files[key] = t
                }
            }
        }
        if (bfloat16.isNotEmpty()) root.putArray("bfloat16").also { a -> bfloat16.forEach { a.add(it) } }
        inputs.kvLens()?.let { files["kv_lens"] = it }
        inputs.mask()?.let { files["mask"] = it }
        inputs.bias()?.let { files["bias"] = it }
        inputs.alibiSlopes()?.let { files["alibi_slopes"] = it }
        inputs.sinks()?.let { files["sinks"] = it }
        val exp = linkedMapOf("out" to expected.out())
        expected.lse()?.let { exp["lse"] = it }
        return finish(dir, root, files, exp) as GoldenCase.Kernel
    }

    /**
     * Writes a layer case (MHA / MQA / GQA or MLA) into folder [dir].
     *
     * @param x              `[B, q_len, hidden]`
     * @param kvX            cross-attention memory `[B, kv_len, hidden]` or null (not for MLA)
     * @param keyPaddingMask `[B, kv_len]`, true = keep, or null (not for MLA)
     * @param y              `[B, q_len, hidden]`
     * @param chunks         chunk sizes for KV-cache decoding (self-attention only, summing to q_len), or null
     * @return the case read back
     */
    @JvmStatic
    @JvmOverloads
    fun write(dir: Path, name: String, source: String, config: LayerConfig, weights: LayerWeights, x: Tensor, kvX: Tensor?,
              keyPaddingMask: BoolTensor?, y: Tensor, chunks: IntArray? = null, tolerance: Tolerance? = null): GoldenCase.Layer {
        weights.validate(config)
        val root = header(name, source, GoldenCase.LAYER, tolerance)
        val s = root.putObject("spec")
        val files = linkedMapOf("x" to x)
        when (config) {
            is StandardLayerConfig -> {
                s.put("variant", config.variant().name.lowercase()).put("hidden", config.hidden()).put("q_heads", config.qHeads())
                    .put("kv_heads", config.kvHeads()).put("head_dim", config.headDim()).put("bias", config.bias())
                putMaskOptions(s, config.causal(), config.alignment(), config.window(), config.softcap())
                putScale(s, config.scale())
                kvX?.let { files["kv_x"] = it }
                keyPaddingMask?.let { files["key_padding_mask"] = it }
                val w = weights as StandardLayerWeights
                files["wq"] = w.wq()
                w.bq()?.let { files["bq"] = it }
                files["wk"] = w.wk()
                w.bk()?.let { files["bk"] = it }
                files["wv"] = w.wv()
                w.bv()?.let { files["bv"] = it }
                files["wo"] = w.wo()
                w.bo()?.let { files["bo"] = it }
            }
            is MlaLayerConfig -> {
                if (kvX != null) throw AttentionException.invalid("kvX", "null (MLA layers are self-attention)", "a tensor")
                if (keyPaddingMask != null) {
                    throw AttentionException.invalid("keyPaddingMask", "null (FORMAT.md has no padding mask for MLA)", "a tensor")
                }
                s.put("variant", "mla").put("hidden", config.hidden()).put("q_heads", config.qHeads())
                    .put("q_lora_rank", config.qLoraRank()).put("kv_lora_rank", config.kvLoraRank())
                    .put("qk_nope_head_dim", config.qkNopeHeadDim()).put("qk_rope_head_dim", config.qkRopeHeadDim())
                    .put("v_head_dim", config.vHeadDim()).put("rope_theta", config.ropeTheta())
                    .put("rope_interleaved", config.ropeInterleaved()).put("rms_eps", config.rmsEps())
                    .put("position_offset", config.positionOffset())
                putMaskOptions(s, config.causal(), config.alignment(), Window.NONE, config.softcap())
                putScale(s, config.scale())
                val w = weights as MlaLayerWeights
                w.wQ()?.let { files["w_q"] = it }
                w.wQA()?.let { files["w_q_a"] = it }
                w.qANorm()?.let { files["q_a_norm"] = it }
                w.wQB()?.let { files["w_q_b"] = it }
                files["w_kv_a"] = w.wKvA()
                files["kv_a_norm"] = w.kvANorm()
                files["w_kv_b"] = w.wKvB()
                files["w_o"] = w.wO()
            }
        }
        if (chunks != null) root.putArray("chunks").also { a -> chunks.forEach { a.add(it) } }
        return finish(dir, root, files, linkedMapOf("y" to y)) as GoldenCase.Layer
    }

    private fun header(name: String, source: String, kind: String, tolerance: Tolerance?): ObjectNode {
        val root = MAPPER.createObjectNode()
        root.put("format", GoldenCase.FORMAT).put("name", name).put("source", source).put("kind", kind)
        tolerance?.let { root.putObject("tolerance").put("atol", it.atol).put("rtol", it.rtol) }
        return root
    }

    private fun putMaskOptions(s: ObjectNode, causal: Boolean, alignment: Alignment, window: Window, softcap: Double) {
        s.put("causal", causal).put("alignment", alignment.name.lowercase())
        if (!window.isNone) s.putArray("window").add(window.left()).add(window.right())
        if (softcap > 0) s.put("softcap", softcap)
    }

    private fun putScale(s: ObjectNode, scale: OptionalDouble) = scale.ifPresent { s.put("scale", it) }

    private fun finish(dir: Path, root: ObjectNode, files: Map<String, Tensor>, expected: Map<String, Tensor>): GoldenCase {
        // FORMAT.md puts "tolerance" and "chunks" after the three maps; keep that order for readers' eyes.
        val ordered = MAPPER.createObjectNode()
        for (k in listOf("format", "name", "source", "kind", "spec")) ordered.set<ObjectNode>(k, root.get(k))
        root.get("bfloat16")?.let { ordered.set<ObjectNode>("bfloat16", it) }
        val inObj = ordered.putObject("inputs")
        val exObj = ordered.putObject("expected")
        root.get("tolerance")?.let { ordered.set<ObjectNode>("tolerance", it) }
        root.get("chunks")?.let { ordered.set<ObjectNode>("chunks", it) }
        try {
            Files.createDirectories(dir)
            for ((k, t) in files) {
                Npy.write(dir.resolve("$k.npy"), t)
                inObj.put(k, "$k.npy")
            }
            for ((k, t) in expected) {
                Npy.write(dir.resolve("$k.npy"), t)
                exObj.put(k, "$k.npy")
            }
            Files.writeString(dir.resolve(GoldenCase.CASE_FILE), MAPPER.writeValueAsString(ordered) + "\n")
        } catch (e: IOException) {
            throw GoldenFormatException(dir, "cannot write the case: $e", e)
        }
        return GoldenCase.read(dir)
    }

    private val MAPPER: JsonMapper = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build()
}
