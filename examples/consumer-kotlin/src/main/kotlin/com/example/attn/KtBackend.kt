package com.example.attn

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionProblem
import org.attn4j.api.Feature
import org.attn4j.api.LayerConfig
import org.attn4j.api.Support
import org.attn4j.reference.ReferenceBackend

/**
 * A Kotlin backend: the float64 reference under another name, declining sinks and layers (as a backend without
 * them would), so that the run shows passes and skips with reasons. Its own numbers are not the point here; the
 * Java example (examples/consumer-java) has a backend of its own.
 */
class KtBackend : AttentionBackend by ReferenceBackend() {
    override fun name() = "kt-reference"
    override fun support(problem: AttentionProblem): Support =
        if (Feature.SINKS in problem.features()) Support.no("SINKS: not implemented by kt-reference") else ReferenceBackend().support(problem)
    override fun supportLayer(config: LayerConfig): Support = Support.no("layers: not implemented by kt-reference")
}
