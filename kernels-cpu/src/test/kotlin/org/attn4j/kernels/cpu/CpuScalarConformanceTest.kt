package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.FunSpec
import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.PathSizes
import org.attn4j.api.Precision
import org.attn4j.api.Support
import org.attn4j.conformance.golden.goldenCases
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.attentionTck

/**
 * The TCK and the golden cases on the cpu backend's scalar fallback (the kernels a JVM without the Vector API
 * gets). [CpuTckTest] and [CpuGoldenTest] run the kernels this JVM chose, the vector ones here; without this spec
 * the fallback would ship checked only by the module's unit tests.
 */
class CpuScalarConformanceTest : FunSpec({
    val scalar = Renamed(CpuBackend(ScalarCpuKernels.INSTANCE, CpuTuning.DEFAULT), "cpu-scalar")
    include(attentionTck(scalar, TckConfig.fromSystemProperties()))
    include(goldenCases(scalar, declinesNone = true))
})

/** [backend] under another name, so that the TCK's summary table keeps its results apart from the default cpu's. */
private class Renamed(private val backend: AttentionBackend, private val label: String) : AttentionBackend by backend {
    override fun name(): String = label

    // Kotlin's `by` does not forward the interface's Java default methods: without these the wrapper would answer
    // the defaults (no path sizes, reduced storage declined) instead of the cpu backend's own answers.
    // Nullable parameters: the wrapped backend answers null with its AttentionException (backend/entry-points).
    override fun supportStorage(dtype: DType?): Support = backend.supportStorage(dtype)
    override fun pathSizes(): PathSizes = backend.pathSizes()
    override fun newKvCache(spec: KvCacheSpec?): KvCache = backend.newKvCache(spec)
    override fun newKvCache(sequences: Int, kvHeads: Int, maxLength: Int, headDim: Int, vHeadDim: Int): KvCache =
        backend.newKvCache(sequences, kvHeads, maxLength, headDim, vHeadDim)
    override fun precisionFor(inputs: DType): Precision = backend.precisionFor(inputs)
    override fun maxInputMagnitude(): Double = backend.maxInputMagnitude()
}
