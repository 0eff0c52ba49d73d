package org.attn4j.reference.mla

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import org.attn4j.api.Alignment
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.MlaLayerWeights
import org.attn4j.api.PlanOptions.MlaPath
import java.util.OptionalDouble
import kotlin.math.sin

/**
 * `det(seed, shape)[i] = 0.5 sin(0.37 (i + 1) + 1.91 seed)` in row-major order; gains `1 + 0.2 sin(...)`.
 * The same definition as `det` in src/test/resources/org/attn4j/reference/mla/mla_numpy.py.
 */
private fun det(seed: Int, vararg shape: Int, gain: Boolean = false): DoubleTensor {
    val n = shape.fold(1) { p, s -> p * s }
    return DoubleTensor.of(DoubleArray(n) {
        val s = sin(0.37 * (it + 1) + 1.91 * seed)
        if (gain) 1 + 0.2 * s else 0.5 * s
    }, *shape)
}

/**
 * Checks the layer against an independent NumPy implementation of MLA (src/test/resources/.../mla_numpy.py, written
 * after Hugging Face's DeepSeek-V2 modeling code: HF-style RoPE with cat(freqs, freqs) and rotate_half, the
 * interleaved layout de-interleaved first, decompressed K/V). The expected numbers below are that script's output,
 * not this project's.
 */
class MlaNumpyCrossCheckTest : StringSpec({
    // B 2, L 4, hidden 6, 2 heads, kv_lora 4, nope 2, rope 4, v 3
    fun weights(qLora: Int) = MlaLayerWeights(
        if (qLora == 0) det(2, 2 * 6, 6) else null,
        if (qLora == 0) null else det(3, qLora, 6),
        if (qLora == 0) null else det(4, qLora, gain = true),
        if (qLora == 0) null else det(5, 2 * 6, qLora),
        det(6, 4 + 4, 6), det(7, 4, gain = true), det(8, 2 * (2 + 3), 4), det(9, 6, 2 * 3),
    )
    val x = det(1, 2, 4, 6)

    "case A: q_lora 3, interleaved RoPE, theta 100, position offset 5, causal, key padding mask" {
        val c = MlaLayerConfig(6, 2, 3, 4, 2, 4, 3, 100.0, true, 1e-6, 5, true, Alignment.BOTTOM_RIGHT, 0.0, OptionalDouble.empty())
        val keep = BoolTensor.of(booleanArrayOf(true, true, true, true, true, false, true, true), 2, 4)
        val expected = doubleArrayOf(
            0.4815550415884375, -0.5015858226599929, 0.12491465485067997,
            0.35055094610320137, -0.548767396027073, 0.31296620499822414,
            0.20497704412726434, -0.27033761329489286, 0.12188939201235137,
            0.12296059577701862, -0.2705616068676168, 0.20417667200878203,
            0.09030432678319363, -0.08299512660952371, 0.01004545777386234,
            0.07084911798751374, -0.09570944813746778, 0.0448736104789006,
            0.16817727098784327, -0.20478838955815848, 0.07943330099951826,
            0.10874522452438501, -0.2109176459053612, 0.1462762591521714,
            -0.2221555730665583, 0.14186412134969378, 0.05062701957936804,
            -0.20307748067689618, 0.19491488470851337, -0.03259499175015561,
            -0.2221555730665583, 0.14186412134969378, 0.05062701957936804,
            -0.20307748067689618, 0.19491488470851337, -0.03259499175015561,
            0.03989639642127637, -0.1294794613768187, 0.11665780844015014,
            -0.01157202468144834, -0.10266602083633385, 0.13570597679562124,
            -0.11167518980960137, 0.04688899460307904, 0.05498149345977247,
            -0.11336736807760325, 0.08209150621057845, 0.01411015504926102,
        )
        for (path in MlaPath.entries) {
            val y = layer(c, weights(3), path).forward(x, null, keep)
            withClue("path=$path") { maxAbsDiff(y, DoubleTensor.of(expected, 2, 4, 6)) shouldBeLessThan 1e-12 }
        }
    }

    "case B: plain query, half-pair RoPE, theta 10000, not causal, softcap 0.7" {
        val c = MlaLayerConfig(6, 2, 0, 4, 2, 4, 3, 10000.0, false, 1e-6, 0, false, Alignment.BOTTOM_RIGHT, 0.7, OptionalDouble.empty())
        val expected = doubleArrayOf(
            0.1732275791470401, -0.19004341219404094, 0.05655477373597137,
            0.12166277839154348, -0.2036577916956219, 0.12458078258491824,
            0.20388038056446964, -0.2412666709335676, 0.08783624712247941,
            0.135063465575367, -0.25114209682356475, 0.1685935844105058,
            0.09525533455178282, -0.11077453039432422, 0.03868265329874592,
            0.0640031585897176, -0.11606916305933522, 0.07633659366491075,
            0.15500123027380838, -0.16398971161477072, 0.04327947489988086,
            0.11166030193293561, -0.17828845314102168, 0.103909076566684,
            -0.10686714222735597, 0.07279789256797342, 0.01884687966695692,
            -0.09558574037800201, 0.09672627318559285, -0.02136643587263742,
            -0.14644628854765687, 0.13688046067472198, -0.01905649818106087,
            -0.11383916216717885, 0.1566999462280609, -0.07562745456648014,
            -0.06980254731847306, 0.05826335033944237, -0.0006439342158343,
            -0.05748476655425332, 0.07014902655905196, -0.02733274008330225,
            -0.08440768006880638, 0.05196032487605601, 0.02158221525135137,
            -0.07805547936538708, 0.07279501938636909, -0.00996130921808355,
        )
        for (path in MlaPath.entries) {
            val y = layer(c, weights(0), path).forward(x, null, null)
            withClue("path=$path") { maxAbsDiff(y, DoubleTensor.of(expected, 2, 4, 6)) shouldBeLessThan 1e-12 }
        }
    }
})
