package org.attn4j.kernels.gpu

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.attentionTck

/**
 * The conformance TCK on the opencl backend, run from this module as any third-party backend runs it. Without
 * OpenCL the TCK reports one skipped test with the reason, unless OpenCL is required here (see [Gpu]): then the
 * availability test fails.
 */
class OpenClTckTest : FunSpec({
    if (Gpu.isRequired) test("opencl is available (required here)") { Gpu.backend.unavailableReason().orElse("") shouldBe "" }
    include(attentionTck(Gpu.backend, TckConfig.fromSystemProperties()))
})
