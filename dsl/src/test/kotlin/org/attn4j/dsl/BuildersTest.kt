package org.attn4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionException
import org.attn4j.api.DType
import org.attn4j.api.LayerVariant
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.Window
import org.attn4j.reference.cost.CostModel

class BuildersTest : StringSpec({

    "attention { } builds the spec the api builder builds" {
        val spec = attention { heads(query = 32, kv = 8); headDim(128); causal(); window(left = 4096) }
        spec shouldBe org.attn4j.api.AttentionSpec.builder(32, 8, 128).causal().window(Window.left(4096)).build()
        spec.groupSize() shouldBe 4
    }

    "kvCache { dtype = BF16 } sets the cache's storage type, its bytes, and int8's scales" {
        fun g8(block: ModelBuilder.() -> Unit): ModelConfig = model("g") { hidden(4096); layers(2); gqa { heads(query = 32, kv = 8); headDim(128) }; block() }
        val bf16 = g8 { kvCache { dtype = BF16 } }
        bf16.kvDtype shouldBe DType.BFLOAT16
        bf16.bytesPerElement shouldBe 2
        bf16.kvStorage shouldBe "bf16"
        bf16.kvBytesPerTokenPerLayer shouldBe 2L * 8 * 128 * 2
        g8 { kvCache { dtype = F32 } }.kvBytesPerTokenPerLayer shouldBe 2L * 8 * 128 * 4
        g8 { kvCache { dtype("int8") } }.kvBytesPerTokenPerLayer shouldBe 2L * 8 * (128 + 4)
        g8 { kvCache { dtype = INT8 } }.costConfig().kvDtype() shouldBe DType.INT8
        // No kvCache { }: bytes only, as before.
        g8 { }.kvDtype shouldBe null
        g8 { }.kvStorage shouldBe "2 B/element"
        bf16.withKvDtype(DType.INT8, "g int8").kvBytesPerTokenPerLayer shouldBe 2L * 8 * 132
    }

    "a bad KV-cache dtype is a validation error naming kvCache.dtype" {
        shouldThrow<DslValidationException> {
            model("m") { hidden(64); layers(1); mha { heads(4) }; kvCache { dtype = DType.BOOL } }
        }.message shouldBe "model(\"m\").kvCache.dtype: must be one of F32, F16, BF16, INT8 (or F64) (a KV cache holds real numbers), got BOOL"
        shouldThrow<DslValidationException> {
            model("m") { hidden(64); layers(1); mha { heads(4) }; kvCache { dtype("fp4") } }
        }.message shouldBe "model(\"m\").kvCache.dtype: must be one of F32, F16, BF16, INT8 (or F64), got 'fp4'"
        shouldThrow<DslValidationException> {
            model("m") { hidden(64); layers(1); mha { heads(4) }; kvCache { } }
        }.path shouldBe "model(\"m\").kvCache.dtype"
    }

    "attention { } carries every option" {
        val spec = attention {
            heads(query = 6, kv = 3); headDim(16); vHeadDim(8); scale(0.5); softcap(30.0)
            causal(Alignment.TOP_LEFT); window(left = 2, right = 1)
        }
        spec.vHeadDim() shouldBe 8
        spec.effectiveScale() shouldBe 0.5
        spec.softcap() shouldBe 30.0
        spec.alignment() shouldBe Alignment.TOP_LEFT
        spec.window() shouldBe Window(2, 1)
    }

    "indivisible heads name the path and the rule" {
        val e = shouldThrow<DslValidationException> { attention { heads(query = 12, kv = 5); headDim(64) } }
        e.message shouldBe "attention.heads: query heads 12 not divisible by kv heads 5"
        e.path shouldBe "attention.heads"
        // still the project's one error type for bad input
        (e as AttentionException).message shouldBe e.message
    }

    "missing settings say which call is missing" {
        shouldThrow<DslValidationException> { attention { headDim(64) } }.message shouldBe
            "attention.heads: not set; call heads(query = …, kv = …)"
        shouldThrow<DslValidationException> { attention { heads(8) } }.message shouldBe
            "attention.headDim: not set; call headDim(…)"
    }

    "a negative vHeadDim is an error, not silently headDim (found by DslFuzzTest)" {
        shouldThrow<DslValidationException> { attention { heads(8); headDim(16); vHeadDim(-5) } }.message shouldBe
            "attention.vHeadDim: vHeadDim: expected >= 1, got -5"
    }

    "api validation failures are mapped to DSL paths" {
        shouldThrow<DslValidationException> { attention { heads(8); headDim(0) } }.message shouldBe
            "attention.headDim: headDim: expected >= 1, got 0"
        shouldThrow<DslValidationException> { attention { heads(8); headDim(8); window(left = -5) } }.message shouldBe
            "attention.window: window.left: expected >= -1 (-1 = unbounded), got -5"
        shouldThrow<DslValidationException> { attention { heads(8); headDim(8); softcap(-1.0) } }.path shouldBe "attention.softcap"
        shouldThrow<DslValidationException> { attention { heads(0); headDim(8) } }.message shouldBe
            "attention.heads: query heads must be >= 1, got 0"
    }

    "layer builders produce api layer configs with head width hidden / heads by default" {
        val a = mha { hidden(256); heads(8) }
        a shouldBe StandardLayerConfig.of(LayerVariant.MHA, 256, 8, 8, 32)
        mqa { hidden(256); heads(8) } shouldBe StandardLayerConfig.of(LayerVariant.MQA, 256, 8, 1, 32)
        val g = gqa { hidden(4096); heads(query = 32, kv = 8); headDim(128); bias(); causal() }
        g.kvHeads() shouldBe 8
        g.bias() shouldBe true
        g.causal() shouldBe true
        val m = mla { hidden(5120); heads(128); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) }
        m shouldBe MlaLayerConfig.of(5120, 128, 1536, 512, 128, 64, 128)
    }

    "layer builders reject what the variant forbids, in the variant's words" {
        shouldThrow<DslValidationException> { mha { hidden(256); heads(query = 8, kv = 2) } }.message shouldBe
            "mha.heads: MHA needs kv heads == query heads 8, got 2 (use gqa { } for fewer KV heads)"
        shouldThrow<DslValidationException> { mqa { hidden(256); heads(query = 8, kv = 2) } }.message shouldBe
            "mqa.heads: MQA needs 1 kv head, got 2 (use gqa { } for several KV heads)"
        shouldThrow<DslValidationException> { gqa { hidden(256); heads(query = 8) } }.message shouldBe
            "gqa.heads: kv heads not set; call heads(query = 8, kv = …)"
        shouldThrow<DslValidationException> { gqa { hidden(256); heads(query = 12, kv = 5); headDim(16) } }.message shouldBe
            "gqa.heads: query heads 12 not divisible by kv heads 5"
        shouldThrow<DslValidationException> { gqa { hidden(250); heads(query = 8, kv = 2) } }.message shouldBe
            "gqa.headDim: not set, and hidden 250 is not divisible by 8 query heads; call headDim(…)"
        shouldThrow<DslValidationException> {
            mla { hidden(64); heads(4); kvLoraRank(16); nopeDim(8); ropeDim(3) }
        }.message shouldBe "mla.ropeDim: qkRopeHeadDim: expected an even number >= 0, got 3"
        shouldThrow<DslValidationException> { mla { hidden(64); heads(4); nopeDim(8); ropeDim(4) } }.message shouldStartWith
            "mla.kvLoraRank: not set"
    }

    "a model gives its hidden to its layer and checks its own fields" {
        val m = model("x") { hidden(512); layers(4); contextLength(1000); gqa { heads(query = 8, kv = 2) } }
        m.layer.hidden() shouldBe 512
        (m.layer as StandardLayerConfig).headDim() shouldBe 64
        m.label shouldBe "GQA-2"
        shouldThrow<DslValidationException> { model("x") { hidden(512); gqa { heads(query = 8, kv = 2) } } }.message shouldBe
            "model(\"x\").layers: not set; call layers(…)"
        shouldThrow<DslValidationException> { model("x") { hidden(512); layers(0); mha { heads(8) } } }.message shouldBe
            "model(\"x\").layers: must be >= 1, got 0"
        shouldThrow<DslValidationException> { model("x") { hidden(512); layers(2) } }.message shouldContain "add one of mha { }"
        shouldThrow<DslValidationException> {
            model("x") { hidden(512); layers(2); mha { heads(8) }; mqa { heads(8) } }
        }.message shouldBe "model(\"x\").layer: given twice; a model has one attention layer kind"
        shouldThrow<DslValidationException> {
            model("x") { hidden(512); layers(2); gqa { hidden(256); heads(query = 8, kv = 2) } }
        }.message shouldBe "model(\"x\").gqa.hidden: 256 differs from the model's hidden 512 (leave it out inside model { })"
        shouldThrow<DslValidationException> {
            model("x") { hidden(512); layers(2); gqa { heads(query = 8, kv = 3) } }
        }.message shouldBe "model(\"x\").gqa.heads: query heads 8 not divisible by kv heads 3"
    }

    "hidden may be given after the layer block" {
        model("late") { layers(1); mha { heads(4) }; hidden(64) }.hidden shouldBe 64
    }

    "presets state the public dimensions" {
        // Values from the model cards / config.json files cited in Presets.kt.
        with(Presets.chatGlm2_6b.layer as StandardLayerConfig) {
            listOf(hidden(), qHeads(), kvHeads(), headDim()) shouldBe listOf(4096, 32, 2, 128)
        }
        Presets.chatGlm2_6b.layers shouldBe 28
        with(Presets.llama2_70b.layer as StandardLayerConfig) {
            listOf(hidden(), qHeads(), kvHeads(), headDim()) shouldBe listOf(8192, 64, 8, 128)
        }
        Presets.llama2_70b.layers shouldBe 80
        with(Presets.mistral7b.layer as StandardLayerConfig) {
            listOf(hidden(), qHeads(), kvHeads(), headDim(), window().left()) shouldBe listOf(4096, 32, 8, 128, 4096)
        }
        Presets.mistral7b.layers shouldBe 32
        for ((preset, hidden, layers) in listOf(Triple(Presets.deepSeekV2, 5120, 60), Triple(Presets.deepSeekV3, 7168, 61))) {
            val l = preset.layer as MlaLayerConfig
            listOf(l.hidden(), l.qHeads(), l.qLoraRank(), l.kvLoraRank(), l.qkRopeHeadDim(), l.qkNopeHeadDim(), l.vHeadDim()) shouldBe
                listOf(hidden, 128, 1536, 512, 64, 128, 128)
            preset.layers shouldBe layers
        }
    }

    "model figures are the cost model's" {
        // Hand-worked: LLaMA-2-70B caches 2 (K and V) · 8 heads · 128 · 2 bytes = 4096 B per token per layer,
        // times 80 layers = 327,680 B per token.
        Presets.llama2_70b.kvBytesPerTokenPerLayer shouldBe 4096L
        Presets.llama2_70b.kvBytesPerToken shouldBe 327_680L
        // DeepSeek-V2: (512 + 64) latent elements · 2 bytes = 1152 B per token per layer.
        Presets.deepSeekV2.kvBytesPerTokenPerLayer shouldBe 1152L
        val c = Presets.deepSeekV2
        c.paramsPerLayer shouldBe CostModel.cost(c.costConfig(), LayerVariant.MLA).params()
        // the MLA preset and the cost model's own DeepSeek-V2 configuration cost the MLA layer alike
        c.paramsPerLayer shouldBe CostModel.cost(CostModel.deepSeekV2Config(), LayerVariant.MLA).params()
    }

    "the article presets reproduce the source table" {
        // Hand-worked at d = 256, h = 8, d_h = 32, g = 4: MHA 4·256² = 262,144 params; MQA 2·256² + 2·256·32 = 147,456
        // (0.5625); GQA 2·256² + 2·256·128 = 196,608 (0.75). Cache per token: 2·8·32 = 512, 2·32 = 64 (1/8), 2·4·32 = 256 (1/2).
        val (mhaM, mqaM, gqaM, mlaM) = Presets.article()
        mhaM.paramsPerLayer shouldBe 262_144L
        mqaM.paramsPerLayer shouldBe 147_456L
        gqaM.paramsPerLayer shouldBe 196_608L
        mqaM.kvVsMha shouldBe 1.0 / 8
        gqaM.kvVsMha shouldBe 4.0 / 8
        // MLA: q 256·32 + 32 + 32·8·32 = 16,416; kv 256·48 + 32 + 32·8·48 = 24,608; out 256·256 = 65,536 → 106,560.
        mlaM.paramsPerLayer shouldBe 106_560L
        mlaM.kvVsMha shouldBe 48.0 / 512
    }
})
