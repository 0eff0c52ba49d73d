package org.attn4j.kernels.gpu

import io.kotest.core.spec.style.FunSpec
import org.attn4j.conformance.golden.goldenCases

/** Every published golden case on the opencl backend, which claims every feature they use. */
class OpenClGoldenTest : FunSpec({
    include(goldenCases(Gpu.backend, declinesNone = true, required = Gpu.isRequired))
})
