package org.attn4j.reference.cost

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException
import org.attn4j.api.DType
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig

class CostModelTest : StringSpec({
    fun byVariant(r: CostReport) = r.variants().associateBy { it.variant() }

    "the article table: params MHA 1.0, MQA ~0.56, GQA ~0.75, MLA ~0.42; KV 1, 1/h, g/h, ~0.1" {
        // External figures from the design's source article, hence the +-0.02 tolerance.
        val c = CostModel.articleConfig()
        val v = byVariant(CostModel.report(c))
        v.getValue(LayerVariant.MHA).paramsVsMha() shouldBe 1.0
        v.getValue(LayerVariant.MQA).paramsVsMha() shouldBe (0.56 plusOrMinus 0.02)
        v.getValue(LayerVariant.GQA).paramsVsMha() shouldBe (0.75 plusOrMinus 0.02)
        v.getValue(LayerVariant.MLA).paramsVsMha() shouldBe (0.42 plusOrMinus 0.02)
        v.getValue(LayerVariant.MHA).kvVsMha() shouldBe 1.0
        v.getValue(LayerVariant.MQA).kvVsMha() shouldBe 1.0 / c.heads()
        v.getValue(LayerVariant.GQA).kvVsMha() shouldBe c.kvGroups().toDouble() / c.heads()
        v.getValue(LayerVariant.MLA).kvVsMha() shouldBe (0.1 plusOrMinus 0.02)
    }

    "with d = h * d_h and no biases, MQA = 1/2 + 1/(2h) and GQA = 1/2 + g/(2h) of MHA, exactly" {
        // d 256, h 8: MQA = 0.5 + 0.5/8 = 0.5625; g 4: GQA = 0.5 + 0.5*4/8 = 0.75.
        val v = byVariant(CostModel.report(CostConfig.of("t", 256, 8, 4)))
        v.getValue(LayerVariant.MQA).paramsVsMha() shouldBe 0.5625
        v.getValue(LayerVariant.GQA).paramsVsMha() shouldBe 0.75
    }

    "exact counts for a tiny configuration, computed by hand" {
        // d 8, h 4, d_h 2, g 2, no biases.
        // MHA = 4*d*(h*d_h) = 4*8*8 = 256; MQA = 2*8*8 + 2*8*2 = 128 + 32 = 160; GQA = 128 + 2*8*(2*2) = 192.
        // MLA (c_q 4, c 3, n 2, r 2, v 3): w_q_a 4*8 = 32, q_a_norm 4, w_q_b (4*(2+2))*4 = 64, w_kv_a (3+2)*8 = 40,
        //   kv_a_norm 3, w_kv_b (4*(2+3))*3 = 60, w_o 8*(4*3) = 96  ->  299.
        val c = CostConfig.of("tiny", 8, 4, 2).withMla(MlaDims(4, 3, 2, 2, 3))
        val v = byVariant(CostModel.report(c))
        v.getValue(LayerVariant.MHA).params() shouldBe 256L
        v.getValue(LayerVariant.MQA).params() shouldBe 160L
        v.getValue(LayerVariant.GQA).params() shouldBe 192L
        val mla = v.getValue(LayerVariant.MLA)
        mla.params() shouldBe 299L
        mla.weights().map { it.name() to it.count() } shouldContainExactly listOf(
            "w_q_a" to 32L, "q_a_norm" to 4L, "w_q_b" to 64L, "w_kv_a" to 40L, "kv_a_norm" to 3L, "w_kv_b" to 60L, "w_o" to 96L)
        mla.weights().first { it.name() == "w_kv_b" }.shape() shouldBe listOf(20L, 3L)
        // KV per token: MHA 2*4*2 = 16, MQA 2*2 = 4, GQA 2*2*2 = 8, MLA c + r = 5.
        v.getValue(LayerVariant.MHA).kvElementsPerToken() shouldBe 16L
        v.getValue(LayerVariant.MQA).kvElementsPerToken() shouldBe 4L
        v.getValue(LayerVariant.GQA).kvElementsPerToken() shouldBe 8L
        mla.kvElementsPerToken() shouldBe 5L
        // With biases: MHA + 3*8 + 8 = 288; MQA + 8 + 2*2 + 8 = 180; GQA + 8 + 2*4 + 8 = 216; MLA has none: 299.
        val b = byVariant(CostModel.report(c.withBias(true)))
        b.getValue(LayerVariant.MHA).params() shouldBe 288L
        b.getValue(LayerVariant.MQA).params() shouldBe 180L
        b.getValue(LayerVariant.GQA).params() shouldBe 216L
        b.getValue(LayerVariant.MLA).params() shouldBe 299L
        // Plain query projection instead (c_q = 0): w_q (4*4)*8 = 128 replaces 32 + 4 + 64 = 100 -> 327.
        val plain = CostModel.cost(c.withMla(MlaDims(0, 3, 2, 2, 3)), LayerVariant.MLA)
        plain.params() shouldBe 327L
        plain.weights().first().name() shouldBe "w_q"
    }

    "cache ratios are exactly 1/h for MQA and g/h for GQA, for any group count" {
        for (g in listOf(1, 2, 3, 6, 12)) {
            val v = byVariant(CostModel.report(CostConfig.of("g$g", 96, 12, g)))
            v.getValue(LayerVariant.MQA).kvVsMha() shouldBe 1.0 / 12
            v.getValue(LayerVariant.GQA).kvVsMha() shouldBe g / 12.0
            v.getValue(LayerVariant.GQA).kvHeads() shouldBe g
        }
    }

    "DeepSeek-V2 dims cache 576 elements per token per layer against MHA's 2*128*128" {
        val c = CostModel.deepSeekV2Config()
        val v = byVariant(CostModel.report(c))
        v.getValue(LayerVariant.MLA).kvElementsPerToken() shouldBe 576L        // 512 + 64
        v.getValue(LayerVariant.MHA).kvElementsPerToken() shouldBe 32_768L     // 2 * 128 * 128
        v.getValue(LayerVariant.MLA).kvVsMha() shouldBe 576.0 / 32_768
        // bf16: 1,152 bytes per token per layer; 128K tokens through 60 layers = 1152 * 131072 * 60 bytes.
        v.getValue(LayerVariant.MLA).kvBytesPerToken() shouldBe 1_152L
        v.getValue(LayerVariant.MLA).kvBytesTotal() shouldBe 1_152L * 131_072 * 60
        v.getValue(LayerVariant.MLA).kvBytes(1000, 2) shouldBe 2_304_000L
        // The api config of the same layer yields the same widths.
        MlaDims.of(MlaLayerConfig.of(5120, 128, 1536, 512, 128, 64, 128)) shouldBe c.mla()
    }

    "bytes per element is a parameter" {
        val c = CostConfig.of("b", 256, 8, 4)
        CostModel.cost(c, LayerVariant.MHA).kvBytesPerToken() shouldBe 1_024L          // 512 elements * 2
        CostModel.cost(c.withBytesPerElement(4), LayerVariant.MHA).kvBytesPerToken() shouldBe 2_048L
        CostModel.cost(c.withBytesPerElement(4).withModel(32, 4096), LayerVariant.GQA).kvBytesTotal() shouldBe
            256L * 4 * 4096 * 32
    }

    "the KV dtype sets the bytes per element, and int8 adds a 4-byte scale per token and KV head (DType.bytesPerRow)" {
        val c = CostModel.deepSeekV2Config()   // 128 heads of 128, GQA 8 KV heads, MLA c 512 + r 64
        CostModel.cost(c.withKvDtype(DType.FLOAT32), LayerVariant.MHA).kvBytesPerToken() shouldBe 2L * 128 * 128 * 4
        CostModel.cost(c.withKvDtype(DType.BFLOAT16), LayerVariant.GQA).kvBytesPerToken() shouldBe 2L * 8 * 128 * 2
        CostModel.cost(c.withKvDtype(DType.FLOAT16), LayerVariant.MLA).kvBytesPerToken() shouldBe 576L * 2
        // int8: K and V rows of every KV head carry a scale; MLA's one latent row carries one.
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.GQA).kvBytesPerToken() shouldBe 2L * 8 * DType.INT8.bytesPerRow(128)
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.GQA).kvBytesPerToken() shouldBe 2L * 8 * 128 + 2 * 8 * 4
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.MLA).kvBytesPerToken() shouldBe DType.INT8.bytesPerRow(576)
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.MQA).kvBytesPerToken() shouldBe 2L * 128 + 2 * 4
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.MLA).kvBytesFormula() shouldBe
            "MLA KV bytes/token/layer = (c + r)·b + (1)·4 (int8: a float32 scale per token and KV head) = 576·1 + 1·4 = 580 B (INT8)"
        // The KV ratio vs MHA stays a ratio of elements; the bytes show the scales.
        CostModel.cost(c.withKvDtype(DType.INT8), LayerVariant.GQA).kvVsMha() shouldBe (8.0 / 128)
        // withBytesPerElement names no type: bytes only, no scales.
        c.withKvDtype(DType.INT8).withBytesPerElement(1).kvDtype() shouldBe null
        shouldThrow<AttentionException> { c.withKvDtype(DType.BOOL) }.argument() shouldBe "kvDtype"
        shouldThrow<AttentionException> {
            CostConfig("x", 256, 8, 32, 4, false, null, 4, 1, 1, "", DType.BFLOAT16)
        }.argument() shouldBe "bytesPerElement"
    }

    "every figure comes with its formula" {
        val v = byVariant(CostModel.report(CostModel.articleConfig()))
        val mqa = v.getValue(LayerVariant.MQA)
        mqa.paramsFormula() shouldBe "MQA params = 2·d·(h·d_h) + 2·d·d_h = 2·256·(8·32) + 2·256·32 = 147,456"
        mqa.kvElementsFormula() shouldBe "MQA KV elements/token/layer = 2·d_h = 2·32 = 64"
        mqa.kvBytesFormula() shouldContain "= 128 B"
        v.getValue(LayerVariant.GQA).paramsFormula() shouldContain "GQA-4 params = 2·d·(h·d_h) + 2·d·(g·d_h)"
        v.getValue(LayerVariant.MLA).paramsFormula() shouldContain "= 106,560"
        v.getValue(LayerVariant.MLA).kvElementsFormula() shouldBe "MLA KV elements/token/layer = c + r = 32 + 16 = 48"
        CostModel.cost(CostModel.articleConfig().withBias(true), LayerVariant.MHA).paramsFormula() shouldContain "(biases)"
    }

    "defaults are the article configuration and a DeepSeek-like one" {
        CostModel.defaults().map { it.name() } shouldContainExactly listOf("article-256", "deepseek-v2")
        CostModel.defaults().forEach { CostModel.report(it).variants().size shouldBe 4 }
    }

    "bad dimensions are AttentionExceptions naming the field" {
        shouldThrow<AttentionException> { CostConfig.of("x", 256, 8, 3) }.argument() shouldBe "kvGroups"
        shouldThrow<AttentionException> { CostConfig.of("x", 256, 6, 3) }.argument() shouldBe "heads"
        shouldThrow<AttentionException> { CostConfig.of("x", 256, 8, 4).withBytesPerElement(0) }.argument() shouldBe "bytesPerElement"
        shouldThrow<AttentionException> { CostConfig.of("x", 256, 8, 4).withModel(0, 10) }.argument() shouldBe "layers"
        shouldThrow<AttentionException> { CostConfig.of(" ", 256, 8, 4) }.argument() shouldBe "name"
        shouldThrow<AttentionException> { MlaDims(0, 32, 16, 15, 32) }.argument() shouldBe "qkRopeHeadDim"
        shouldThrow<AttentionException> { MlaDims(0, 0, 16, 16, 32) }.argument() shouldBe "kvLoraRank"
        shouldThrow<AttentionException> { MlaDims(-1, 32, 16, 16, 32) }.argument() shouldBe "qLoraRank"
        shouldThrow<AttentionException> { CostModel.cost(CostConfig.of("x", 256, 8, 4), LayerVariant.MLA) }.argument() shouldBe "config.mla"
        shouldThrow<AttentionException> { CostModel.cost(CostModel.articleConfig(), LayerVariant.MHA).kvBytes(-1, 1) }
            .argument() shouldBe "contextLength"
    }

    "widths whose sum overflows an int are summed as long, in the check and in the counts" {
        // n + r = 2 + 2147483646 = 2^31: valid widths, the old int sum reported -2147483648
        val wide = MlaDims(0, 64, 2, 2147483646, 32)
        val mla = CostModel.cost(CostConfig.of("wide", 512, 16, 4).withMla(wide), LayerVariant.MLA)
        val qk = 2L + 2147483646L
        // w_q [h(n+r), d] + w_kv_a [(c+r), d] + kv_a_norm c + w_kv_b [h(n+v), c] + w_o [d, h v], worked by hand
        mla.params() shouldBe 16 * qk * 512 + (64 + 2147483646L) * 512 + 64 + 16L * (2 + 32) * 64 + 512L * 16 * 32
        mla.kvElementsPerToken() shouldBe 64 + 2147483646L
        shouldThrow<AttentionException> { MlaDims(0, 64, 0, 0, 32) }.argument() shouldBe "qkNopeHeadDim + qkRopeHeadDim"
    }

    "counts beyond 64 bits are an AttentionException naming the config, not an ArithmeticException" {
        // MHA params = 4*d*(h*d_h) with d = d_h = 2^31-1, h = 1: about 1.8e19 > 2^63-1
        val huge = CostConfig.of("huge", Int.MAX_VALUE, 1, 1)
        val e = shouldThrow<AttentionException> { CostModel.report(huge) }
        e.argument() shouldBe "config"
        e.message shouldContain "hidden=2147483647"
        e.message shouldContain "64-bit"
        // Per-token counts that fit, times a context and layers that do not: names the context.
        val long = CostConfig.of("long", 4096, 32, 8).withModel(1000, Long.MAX_VALUE / 4)
        shouldThrow<AttentionException> { CostModel.report(long) }.argument() shouldBe "contextLength"
    }
})
