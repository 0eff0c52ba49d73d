package com.example.attn

import io.kotest.core.spec.style.FunSpec
import org.attn4j.conformance.golden.GoldenResources
import org.attn4j.conformance.golden.goldenCases
import org.attn4j.conformance.tck.TckConfig
import org.attn4j.conformance.tck.attentionTck

/** attn4j's TCK (one Kotest test per check) and golden cases (read from attn4j-golden) on this project's backend. */
class KtBackendConformanceTest : FunSpec({
    include(attentionTck(KtBackend(), TckConfig.fromSystemProperties().copy(iterations = 10)))
    include(goldenCases(KtBackend(), dirs = listOf(GoldenResources.root())))
})
