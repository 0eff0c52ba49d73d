package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.FunSpec
import org.attn4j.api.AttentionBackend
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
}
