package org.attn4j.conformance.golden

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerWeights
import org.attn4j.api.Tensor
import java.nio.file.Files
import java.nio.file.Path

/**
 * One golden case (`attention-golden/1`, see `golden/FORMAT.md`), read and checked completely: every key is
 * known, every tensor has the dtype and the shape the spec implies, and the api objects ([AttentionSpec],
 * [LayerConfig], weights) are built and validated. [read] throws [GoldenFormatException] naming the file for
 * anything else.
 *
 * ```
 * when (val c = GoldenCase.read(Path.of("golden/onnx/test_attention_3d"))) {
 *     is GoldenCase.Kernel -> backend.plan(c.problem, PlanOptions.defaults()).run(c.inputs)
 *     is GoldenCase.Layer -> backend.planLayer(c.config, c.weights, PlanOptions.defaults()).forward(c.x, c.kvX, c.keyPaddingMask)
 * }
 * ```
 */
sealed class GoldenCase(
    /** The case folder. */
    val dir: Path,
    val name: String,
    /** Free text: what produced the case; empty when not given. */
    val source: String,
    val tolerance: Tolerance,
    /** Short labels of what the case exercises (causal, gqa, mask, chunks, f64, ...). */
    val features: List<String>,
) {
    /** `kernel` or `layer`. */
    abstract val kind: String

    /**
     * A `kind: kernel` case.
     *
     * @property inputs      q `[B, q_heads, q_len, head_dim]`, k/v `[B, kv_heads, kv_len, head_dim | v_head_dim]`, optional tensors
     * @property expectedOut `[B, q_heads, q_len, v_head_dim]`
     * @property expectedLse `[B, q_heads, q_len]` or `null`
     */
    class Kernel internal constructor(
        dir: Path, name: String, source: String, tolerance: Tolerance, features: List<String>,
        val spec: AttentionSpec,
        val inputs: AttentionInputs,
        val problem: AttentionProblem,
        val expectedOut: Tensor,
        val expectedLse: Tensor?,
    ) : GoldenCase(dir, name, source, tolerance, features) {
        override val kind: String get() = KERNEL
    }

    /**
     * A `kind: layer` case (MHA / MQA / GQA or MLA).
     *
     * @property x              `[B, q_len, hidden]`
     * @property kvX            cross-attention memory `[B, kv_len, hidden]`, or `null` (self-attention)
     * @property keyPaddingMask `[B, kv_len]`, `true` = keep, or `null`
     * @property expectedY      `[B, q_len, hidden]`
     * @property chunks         chunk sizes for KV-cache decoding (summing to q_len), or `null` for one call
     */
    class Layer internal constructor(
        dir: Path, name: String, source: String, tolerance: Tolerance, features: List<String>,
        val config: LayerConfig,
        val weights: LayerWeights,
        val x: Tensor,
        val kvX: Tensor?,
        val keyPaddingMask: BoolTensor?,
        val expectedY: Tensor,
        chunks: IntArray?,
    ) : GoldenCase(dir, name, source, tolerance, features) {
        private val chunkSizes = chunks?.clone()
        val chunks: IntArray? get() = chunkSizes?.clone()
        override val kind: String get() = LAYER
    }

    override fun toString(): String = "GoldenCase[$kind $name, ${features.joinToString(" ")}]"

    companion object {
        const val FORMAT = "attention-golden/1"
        const val CASE_FILE = "case.json"
        const val KERNEL = "kernel"
        const val LAYER = "layer"

        /**
         * Reads the case in folder [dir] (or the `case.json` file itself), within [limits]: `case.json` and each
         * `.npy` file must be regular files and fit the limits, checked before they are read.
         */
        @JvmStatic
        @JvmOverloads
        fun read(dir: Path, limits: GoldenLimits = GoldenLimits.fromSystemProperties()): GoldenCase {
            val folder = if (dir.fileName?.toString() == CASE_FILE && !Files.isDirectory(dir)) dir.parent ?: Path.of(".") else dir
            return CaseReader(folder, limits).read()
        }
    }
}
