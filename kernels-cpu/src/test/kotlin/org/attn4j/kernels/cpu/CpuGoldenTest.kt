package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.FunSpec
import org.attn4j.conformance.golden.goldenCases

/** Every published golden case on the cpu backend, which claims every feature they use. */
class CpuGoldenTest : FunSpec({
    include(goldenCases(CpuBackend(), declinesNone = true))
})
