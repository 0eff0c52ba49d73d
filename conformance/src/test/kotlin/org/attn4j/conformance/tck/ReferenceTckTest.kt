package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import org.attn4j.api.Backends
import org.attn4j.reference.ReferenceBackend

/**
 * The TCK on the float64 reference: its kernel checks compare the reference with itself through the public SPI, so
 * what they test here is the plumbing (plans, decode, layers, caches); the metamorphic and contract checks are real
 * checks of the reference. The kernels run the same TCK from their own modules' tests (`CpuTckTest`,
 * `OpenClTckTest`), as a third party would.
 */
class ReferenceTckTest : FunSpec({
    val config = TckConfig.fromSystemProperties()
    test("ServiceLoader finds the reference backend") {
        Backends.all().map { it.name() } shouldContain "reference"
    }
    include(attentionTck(ReferenceBackend(), config))
})
