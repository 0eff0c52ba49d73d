package org.attn4j.dsl

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldBeIn
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldNotBeBlank
import io.kotest.property.Arb
import io.kotest.property.PropTestConfig
import io.kotest.property.arbitrary.arbitrary
import io.kotest.property.arbitrary.bind
import io.kotest.property.arbitrary.choice
import io.kotest.property.arbitrary.double
import io.kotest.property.arbitrary.int
import io.kotest.property.arbitrary.of
import io.kotest.property.arbitrary.orNull
import io.kotest.property.arbitrary.string
import io.kotest.property.checkAll
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType

/**
 * Fuzzes the DSL builders: random arguments give either a built record that carries them, or a
 * [DslValidationException] naming the DSL setter that got the bad value (`attention.heads`, `model("x").gqa.headDim`)
 * — never another exception (an ArithmeticException, an ArrayIndexOutOfBounds, an api message naming an api field
 * the script never wrote).
 *
 * Iterations: system property `attn4j.fuzz.iterations` (default 300, a few seconds); run it long with
 * `-Dattn4j.fuzz.iterations=1000000`. Only the builders are fuzzed: compiling a `.attn.kts` script takes tens of
 * milliseconds at best, far too slow for 10^6 inputs; ScriptsTest covers how scripts report failures instead.
 * The seed corpus in `src/test/resources/fuzz/` holds the edge values that run first.
 */
class DslFuzzTest : StringSpec({
    val iterations = System.getProperty("attn4j.fuzz.iterations", "300").toInt()
    val config = PropTestConfig(iterations = iterations, seed = 20250101L)

    val anInt: Arb<Int> = Arb.choice(
        Arb.int(-3..70),
        Arb.of(0, 1, -1, 2, 4096, 8192, Int.MIN_VALUE, Int.MAX_VALUE),
        Arb.int(),
    )
    val aDouble: Arb<Double> = Arb.choice(
        Arb.double(-2.0..60.0),
        Arb.of(0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MIN_VALUE, Double.MAX_VALUE, -1e-300),
    )

    /** Runs [build]: a value is fine; a validation error must name one of [setters] under one of [paths]. */
    fun builtOrNamed(paths: List<String>, setters: Set<String>, build: () -> Any) {
        try {
            build()
        } catch (e: DslValidationException) {
            e.rule.shouldNotBeBlank()
            e.message shouldBe "${e.path}: ${e.rule}"
            val path = paths.firstOrNull { e.path == it || e.path.startsWith("$it.") }
            (path ?: e.path) shouldBeIn paths
            // the setter the script called: `heads`, not the api's `kvHeads`
            e.path.removePrefix(path!!).removePrefix(".") shouldBeIn setters + ""
        }
    }

    fun builtOrNamed(path: String, setters: Set<String>, build: () -> Any) = builtOrNamed(listOf(path), setters, build)

    data class AttentionArgs(
        val q: Int?, val kv: Int?, val headDim: Int?, val vHeadDim: Int?,
        val left: Int?, val right: Int?, val softcap: Double?, val scale: Double?,
    )

    val attentionSetters = setOf("heads", "headDim", "vHeadDim", "window", "softcap", "scale")

    fun checkAttention(a: AttentionArgs) = builtOrNamed("attention", attentionSetters) {
        val spec: AttentionSpec = attention {
            if (a.q != null) heads(query = a.q, kv = a.kv ?: a.q)
            a.headDim?.let { headDim(it) }
            a.vHeadDim?.let { vHeadDim(it) }
            if (a.left != null || a.right != null) window(left = a.left ?: -1, right = a.right ?: -1)
            a.softcap?.let { softcap(it) }
            a.scale?.let { scale(it) }
        }
        // Built: it carries what was asked for.
        spec.qHeads() shouldBe a.q
        spec.kvHeads() shouldBe (a.kv ?: a.q)
        spec.headDim() shouldBe a.headDim
        spec.vHeadDim() shouldBe (a.vHeadDim ?: a.headDim)
        spec
    }

    "the seed corpus: every edge case builds or names its argument" {
        val seeds = DslFuzzTest::class.java.getResource("/fuzz/attention-seeds.txt")!!.readText().lines()
            .filter { it.isNotBlank() && !it.startsWith("#") }
        seeds.size shouldBe 10
        for (line in seeds) {
            val f = line.trim().split(Regex("\\s+")).map { if (it == "-") null else it }
            checkAttention(AttentionArgs(f[0]?.toInt(), f[1]?.toInt(), f[2]?.toInt(), f[3]?.toInt(), f[4]?.toInt(),
                f[5]?.toInt(), f[6]?.toDouble(), f[7]?.toDouble()))
        }
    }

    "attention { } with random arguments builds or names the argument" {
        val args = Arb.bind(anInt.orNull(0.1), anInt.orNull(0.3), anInt.orNull(0.1), anInt.orNull(0.5), anInt.orNull(0.6),
            anInt.orNull(0.6), aDouble.orNull(0.6), aDouble.orNull(0.6), ::AttentionArgs)
        checkAll(config, args) { checkAttention(it) }
    }

    "mha / mqa / gqa { } with random arguments build or name the argument" {
        val layerSetters = setOf("hidden", "heads", "headDim", "window", "softcap", "scale")
        val args = arbitrary {
            listOf(Arb.of("mha", "mqa", "gqa").bind(), anInt.orNull(0.1).bind(), anInt.orNull(0.1).bind(),
                anInt.orNull(0.5).bind(), anInt.orNull(0.5).bind(), anInt.orNull(0.7).bind(), aDouble.orNull(0.7).bind())
        }
        checkAll(config, args) { a ->
            val (variant, hidden, q, kv, headDim) = a
            val left = a[5]
            val scale = a[6]
            val block: StandardLayerBuilder.() -> Unit = {
                (hidden as Int?)?.let { hidden(it) }
                if (q != null) heads(query = q as Int, kv = kv as Int?)
                (headDim as Int?)?.let { headDim(it) }
                (left as Int?)?.let { window(left = it) }
                (scale as Double?)?.let { scale(it) }
            }
            builtOrNamed(variant as String, layerSetters) {
                when (variant) {
                    "mha" -> mha(block)
                    "mqa" -> mqa(block)
                    else -> gqa(block)
                }
            }
        }
    }

    "mla { } with random arguments builds or names the argument" {
        val mlaSetters = setOf("hidden", "heads", "qLoraRank", "kvLoraRank", "nopeDim", "ropeDim", "vHeadDim", "window",
            "softcap", "scale", "rmsEps", "ropeTheta", "positionOffset", "rope")
        val args = arbitrary { List(8) { anInt.orNull(0.15).bind() } + listOf(aDouble.orNull(0.5).bind(), aDouble.orNull(0.5).bind()) }
        checkAll(config, args) { a ->
            builtOrNamed("mla", mlaSetters) {
                mla {
                    (a[0] as Int?)?.let { hidden(it) }
                    (a[1] as Int?)?.let { heads(it) }
                    (a[2] as Int?)?.let { qLoraRank(it) }
                    (a[3] as Int?)?.let { kvLoraRank(it) }
                    (a[4] as Int?)?.let { nopeDim(it) }
                    (a[5] as Int?)?.let { ropeDim(it) }
                    (a[6] as Int?)?.let { vHeadDim(it) }
                    (a[7] as Int?)?.let { rope(positionOffset = it) }
                    (a[8] as Double?)?.let { rmsEps(it) }
                    (a[9] as Double?)?.let { rope(theta = it, positionOffset = (a[7] as Int?) ?: 0) }
                }
            }
        }
    }

    "model { } with random arguments builds or names the argument" {
        val modelSetters = setOf("name", "hidden", "layers", "contextLength", "bytesPerElement", "layer",
            "gqa.heads", "gqa.headDim", "gqa.hidden")
        val args = arbitrary {
            listOf(Arb.choice(Arb.of("", " ", "GQA-8"), Arb.string(0..6)).bind(), anInt.orNull(0.1).bind(),
                anInt.orNull(0.1).bind(), anInt.orNull(0.5).bind(), anInt.orNull(0.5).bind(), anInt.bind(), anInt.orNull(0.5).bind())
        }
        checkAll(config, args) { a ->
            val (name, hidden, layers, context, bytes) = a
            val q = a[5]
            val kv = a[6]
            name as String
            // A blank name is reported as `model.name`; other errors quote the name in the path.
            builtOrNamed(listOf("model(\"$name\")", "model"), modelSetters) {
                val m = model(name) {
                    (hidden as Int?)?.let { hidden(it) }
                    (layers as Int?)?.let { layers(it) }
                    (context as Int?)?.let { contextLength(it) }
                    (bytes as Int?)?.let { cacheBytesPerElement(it) }
                    gqa { heads(query = q as Int, kv = (kv as Int?) ?: 1) }
                }
                m.name shouldBe name
                m.hidden shouldBe hidden
                m
            }
        }
    }

    "kvCache { } with any DType or name builds that type or names kvCache.dtype" {
        val names = Arb.choice(Arb.of(DType.entries.map { it.name } + listOf("bf16", "int8", "f16", "f32", "f64", "fp8", "", " BF16 ", "int4")),
            Arb.string(0..6))
        checkAll(config, names) { n ->
            val expected = KvCacheBuilder.parse(n)
            val built = runCatching { model("m") { hidden(64); layers(1); mha { heads(4) }; kvCache { dtype(n) } } }
            if (expected != null) {
                expected.isReal() shouldBe true
                built.getOrThrow().kvDtype shouldBe expected
                built.getOrThrow().bytesPerElement shouldBe expected.bytes()
            } else {
                (built.exceptionOrNull() as DslValidationException).path shouldBe "model(\"m\").kvCache.dtype"
            }
        }
        for (d in DType.entries) {
            val built = runCatching { model("m") { hidden(64); layers(1); mha { heads(4) }; kvCache { dtype = d } } }
            if (d.isReal()) built.getOrThrow().kvDtype shouldBe d
            else (built.exceptionOrNull() as DslValidationException).path shouldBe "model(\"m\").kvCache.dtype"
        }
    }
})
