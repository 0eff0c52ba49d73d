package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

class MlaLayerConfigTest : StringSpec({

    "widths are checked as long sums: no negative width from an int overflow" {
        // nope + rope = 2 + 2147483646 = 2^31, which qkHeadDim() (an int) cannot hold
        val e = shouldThrow<AttentionException> { MlaLayerConfig.of(512, 16, 0, 64, 2, 2147483646, 32) }
        e.argument() shouldBe "qkNopeHeadDim + qkRopeHeadDim"
        e.message shouldContain "got 2147483648"
        // c + rope = 2^31 - 1 + 2: the latent width would overflow too
        shouldThrow<AttentionException> { MlaLayerConfig.of(512, 16, 0, Int.MAX_VALUE, 0, 2, 32) }
            .argument() shouldBe "kvLoraRank + qkRopeHeadDim"
    }

    "valid widths keep their sums" {
        val c = MlaLayerConfig.of(512, 16, 0, 64, 32, 16, 32)
        c.qkHeadDim() shouldBe 48
        c.latentWidth() shouldBe 80
    }
})
