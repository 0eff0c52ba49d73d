package org.attn4j.backend.ort

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import org.attn4j.conformance.golden.CaseResult
import org.attn4j.conformance.golden.GoldenDirs
import org.attn4j.conformance.golden.GoldenRunner
import java.nio.file.Path

/**
 * Every published golden case on ONNX Runtime. ORT declines the cases that use features ONNX Attention cannot express
 * (printed with the reasons); of the cases it runs, exactly those in [KNOWN_FAILURES] fail (docs/ONNXRUNTIME.md says
 * how), so a new failure fails the suite, and so does a known one that starts to pass.
 */
class OrtGoldenTest : FunSpec({
    val backend = OrtBackend()
    val unavailable = backend.unavailableReason()
    if (unavailable.isPresent) {
        test("onnxruntime is available").config(enabled = GoldenDirs.requiredHere(backend.name())) {
            unavailable.get() shouldBe ""
        }
    } else {
        val cases = GoldenRunner.discover(listOf(GoldenDirs.project()))
        val results = cases.associate { label(it) to GoldenRunner.run(it, backend) }
        for ((name, r) in results) println("golden onnxruntime $name: ${r.status} ${r.message}")

        test("golden cases were found") { cases.size shouldBeGreaterThan 0 }
        test("onnxruntime runs some cases, not only declines them") {
            results.values.count { it.status == CaseResult.Status.PASSED } shouldBeGreaterThan 0
        }
        test("no case is unreadable") {
            results.filterValues { it.status == CaseResult.Status.ERROR }.keys shouldBe emptySet()
        }
        test("exactly the known cases fail") {
            val failed = results.filterValues { it.status == CaseResult.Status.FAILED }
            withClue(failed.entries.joinToString("\n") { "${it.key}: ${it.value.message}" }) {
                failed.keys shouldBe KNOWN_FAILURES.keys
            }
        }
    }
}) {
    companion object {
        /** Case (group/name) -> why ORT 1.24.1 fails it (see docs/ONNXRUNTIME.md). */
        val KNOWN_FAILURES: Map<String, String> = linkedMapOf(
            "cases/seed003-gqa-kernel-mask" to
                "ORT rejects a mask whose query axis is 1 (broadcast): 'inconsistent q_sequence_length (between attn_mask and Q)'",
            "onnx/test_attention_23_boolmask_fullymasked_row_nan_robustness" to
                "a fully masked row: ORT gives the mean of V, FORMAT (and this ONNX test) 0",
            "onnx/test_attention_23_fullymasked_qk_matmul_output_mode3_zero" to
                "a fully masked row: ORT gives the mean of V, FORMAT (and this ONNX test) 0",
            "onnx/test_attention_24_fullymasked_qk_matmul_output_mode3_zero" to
                "a fully masked row: ORT gives the mean of V, FORMAT (and this ONNX test) 0",
            "onnx/test_attention_24_qk_matmul_output_mode3_softmax_precision" to
                "a fully masked row: ORT gives the mean of V, FORMAT (and this ONNX test) 0",
            "onnx/test_attention_causal_boolmask_nan_robustness" to
                "a fully masked row: ORT gives the mean of V, FORMAT (and this ONNX test) 0 (causal + bool mask)",
            "onnx/test_attention_3d_with_past_and_present_qk_matmul_softcap" to
                "softcap with a float attn_mask: ORT caps s + bias, FORMAT and ONNX cap s, then add the bias",
            "onnx/test_attention_4d_with_qk_matmul_softcap" to
                "softcap with a float attn_mask: ORT caps s + bias, FORMAT and ONNX cap s, then add the bias",
        )

        private fun label(dir: Path): String = "${dir.parent?.fileName}/${dir.fileName}"
    }
}
