package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.FunSpec
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.attentionTck

/** The conformance TCK on the cpu backend, run from this module as any third-party backend runs it. */
class CpuTckTest : FunSpec({
    include(attentionTck(CpuBackend(), TckConfig.fromSystemProperties()))
})
