package org.attn4j.bench

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.api.AttentionException

/** A smoke test of the stream probe: every mode reports a finite figure. Timings are never checked. */
class StreamProbeTest : StringSpec({
    "every mode and round gets a line with a finite figure" {
        val lines = StreamProbe.probe(2, 4 * 8192, 2, 2)
        lines shouldHaveSize 2 * StreamProbe.MODES.size
        for ((i, line) in lines.withIndex()) {
            line shouldContain StreamProbe.MODES[i % StreamProbe.MODES.size]
            line shouldContain "GB/s"
            line shouldNotContain "NaN"
            line shouldNotContain "Infinity"
        }
    }

    "too small a buffer for the threads is an AttentionException naming it" {
        shouldThrow<AttentionException> { StreamProbe.probe(2, 8192, 1, 1) }.message!! shouldContain "floats"
        shouldThrow<AttentionException> { StreamProbe.probe(0, 8192, 1, 1) }.message!! shouldContain "threads"
    }
})
