package org.attn4j.dsl.compare

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.FloatTensor
import org.attn4j.api.MlaLayerConfig
import org.attn4j.api.PlanOptions
import org.attn4j.api.StandardLayerConfig
import org.attn4j.dsl.ModelConfig
import org.attn4j.dsl.check.Agreement
import org.attn4j.dsl.check.CheckOutcome
import org.attn4j.dsl.check.NotRun
import org.attn4j.dsl.check.RandomTensors
import org.attn4j.dsl.check.ReferenceChecks
import org.attn4j.dsl.check.Tolerance
import org.attn4j.reference.ReferenceBackend
import org.attn4j.reference.cost.VariantCost
import java.util.Locale

/**
 * What `attn compare` measures and how long it may take.
 *
 * @property context      tokens per sequence for the whole-model KV-cache column
 * @property prefillLen   prefill: `B = 1`, `L` queries over `L` keys
 * @property decodeKv     decode: `B = 1`, one query over this many cached keys
 * @property reps         timed runs per measurement (after one warm-up run); fewer when a run is slow (see [budgetMillis])
 * @property budgetMillis a measurement stops adding timed runs once this much time has been spent on it
 * @property backends     backends to measure; `null` = every available backend except the reference
 * @property errorLen     the small random problem for the error column: prefill `errorLen × errorLen`, decode over `2·errorLen + 1` keys
 * @property threads      threads a plan may use
 */
data class CompareSettings(
    val context: Long = 32768,
    val prefillLen: Int = 512,
    val decodeKv: Int = 4096,
    val reps: Int = 3,
    val budgetMillis: Long = 1500,
    val backends: List<String>? = null,
    val errorLen: Int = 29,
    val threads: Int = Runtime.getRuntime().availableProcessors(),
) {
    init {
        AttentionException.require(context >= 1, "context", ">= 1", context)
        AttentionException.require(prefillLen >= 1, "prefillLen", ">= 1", prefillLen)
        AttentionException.require(decodeKv >= 1, "decodeKv", ">= 1", decodeKv)
        AttentionException.require(reps >= 1, "reps", ">= 1", reps)
        AttentionException.require(errorLen >= 1, "errorLen", ">= 1", errorLen)
        AttentionException.require(threads >= 1, "threads", ">= 1", threads)
    }
}

/** Progress of the slow part (the measurements); `attn compare` draws it as progress bars. */
interface CompareProgress {
    /** A new group of [steps] steps starts, e.g. "cpu" with one step per timed run. */
    fun begin(task: String, steps: Long) {}

    /** One step done; [message] says what is running now. */
    fun step(message: String) {}

    /** The group ended. */
    fun end() {}

    companion object {
        val NONE = object : CompareProgress {}
    }
}

/** A backend's availability, as the comparison saw it. */
data class BackendStatus(val name: String, val measured: Boolean, val reason: String?)

/** Prefill or decode, timed. */
enum class Phase { PREFILL, DECODE }

/** The result of timing one kernel, or why it was not timed. */
sealed interface Speed {
    val backend: String
}

/**
 * A timed kernel.
 *
 * @property millis         median wall time of one call
 * @property runs           timed runs (after one warm-up)
 * @property tokensPerSecond prefill: queries per second; decode: generated tokens (calls) per second
 * @property gflops         attention FLOPs per second / 1e9 (`2·Hq·Lq·Lk·(D + Dv)`, halved for causal squares)
 * @property gbPerSecond    decode only: K/V (or latent) bytes read per second / 1e9
 * @property note           how the measurement departed from the usual path, if it did
 */
data class Timed(
    override val backend: String,
    val millis: Double,
    val runs: Int,
    val tokensPerSecond: Double,
    val gflops: Double,
    val gbPerSecond: Double?,
    val note: String? = null,
) : Speed

/** Not timed: the backend declines the problem (its reasons) or failed. */
data class NotTimed(override val backend: String, val reason: String) : Speed

/**
 * One kernel shape that is timed for a variant, in words and as a spec.
 *
 * @property description e.g. `prefill B=1 L=512, 32/8 heads, d=128, causal`
 */
data class KernelShape(val phase: Phase, val spec: AttentionSpec, val qLen: Int, val kvLen: Int, val description: String, val vIsKeyPrefix: Boolean)

/**
 * One row of the comparison: a config, its cost (from the cost model) and what was measured.
 *
 * @property kvBytesAtContext KV-cache bytes of one sequence of [CompareSettings.context] tokens through all layers
 * @property errors           max |error| against the float64 reference on a small random problem, per backend
 */
data class VariantRow(
    val model: ModelConfig,
    val cost: VariantCost,
    val kvBytesAtContext: Long,
    val shapes: List<KernelShape>,
    val prefill: List<Speed>,
    val decode: List<Speed>,
    val errors: List<CheckOutcome>,
)

/** The whole comparison. */
data class ComparisonResult(
    val title: String,
    val settings: CompareSettings,
    val backends: List<BackendStatus>,
    val rows: List<VariantRow>,
    val environment: String,
    val millis: Long,
)

/**
 * Runs the comparison behind `attn compare`: the cost model's figures for each config, then, on each optimized
 * backend, the attention kernel's prefill and decode speed and its largest error against the float64 reference.
 *
 * Only the attention kernel is timed (no projections): for MHA/MQA/GQA the layer's own spec; for MLA prefill the
 * naive path (per-head `K = [k_nope | k_pe]` of width `n + r`, `V` of width `v`) and for MLA decode the absorbed
 * path, which attends every head over the shared latent cache `[c_kv | k_pe]` (`c + r` wide) and reads `c_kv` as
 * the values (DeepSeek-V2 §2.1.3): an MQA-shaped kernel with `K` width `c + r`, `V = c_kv` a view of the same
 * memory, and scale `1/sqrt(n + r)`.
 */
object Comparator {
    fun run(
        models: List<ModelConfig>,
        settings: CompareSettings = CompareSettings(),
        progress: CompareProgress = CompareProgress.NONE,
        title: String = "attention variants",
    ): ComparisonResult {
        AttentionException.require(models.isNotEmpty(), "models", "at least one config", "none")
        val start = System.nanoTime()
        val statuses = backendStatuses(settings)
        val measured = statuses.filter { it.measured }.map { Backends.byName(it.name) }
        val shapes = models.associateWith { shapes(it, settings) }

        val errors = models.associateWith { m -> measured.map { b -> error(m, b, settings) } }

        val timings = mutableMapOf<Pair<ModelConfig, Phase>, MutableList<Speed>>()
        for (b in measured) {
            // per kernel: one step as it starts, one for the warm-up, one per timed run
            progress.begin(b.name(), models.size * 2L * (settings.reps + 2))
            try {
                for (m in models) for (shape in shapes.getValue(m)) {
                    progress.step("${b.name()}: ${m.name} ${shape.phase.name.lowercase()}")
                    timings.getOrPut(m to shape.phase) { mutableListOf() } += time(b, shape, settings, progress)
                }
            } finally {
                progress.end()
            }
        }
        val rows = models.map { m ->
            VariantRow(m, m.cost, m.kvCacheBytes(settings.context), shapes.getValue(m),
                timings[m to Phase.PREFILL].orEmpty(), timings[m to Phase.DECODE].orEmpty(), errors.getValue(m))
        }
        return ComparisonResult(title, settings, statuses, rows, environment(), (System.nanoTime() - start) / 1_000_000)
    }

    /** Which backends are measured, and why the others are not. */
    fun backendStatuses(settings: CompareSettings): List<BackendStatus> {
        val all = Backends.all()
        val wanted = settings.backends
        val out = mutableListOf<BackendStatus>()
        for (b in all) {
            val reason = when {
                b.name() == ReferenceBackend.NAME -> "the float64 reference: the errors are measured against it"
                wanted != null && b.name() !in wanted -> "not selected (--backend)"
                else -> b.unavailableReason().orElse(null)?.let { "unavailable: $it" }
            }
            out += BackendStatus(b.name(), reason == null, reason)
        }
        wanted?.filter { w -> all.none { it.name() == w } }?.forEach {
            throw AttentionException.invalid("backend", "one of ${all.map { b -> b.name() }}", "'$it'")
        }
        return out
    }

    /** The kernels timed for [model]: prefill, then decode. */
    fun shapes(model: ModelConfig, settings: CompareSettings): List<KernelShape> {
        val l = settings.prefillLen
        val kv = settings.decodeKv
        return when (val layer = model.layer) {
            is StandardLayerConfig -> {
                val spec = layer.attentionSpec()
                val heads = "${spec.qHeads()}/${spec.kvHeads()} heads, d=${spec.headDim()}" + visibility(spec)
                listOf(
                    KernelShape(Phase.PREFILL, spec, l, l, "prefill B=1 L=$l, $heads", false),
                    KernelShape(Phase.DECODE, spec, 1, kv, "decode B=1 1 query against a KV cache of $kv tokens, $heads", false),
                )
            }
            is MlaLayerConfig -> {
                val qk = layer.qkHeadDim()
                val scale = layer.scale().orElse(1.0 / Math.sqrt(qk.toDouble()))
                val naive = AttentionSpec.builder(layer.qHeads(), layer.qHeads(), qk).vHeadDim(layer.vHeadDim()).scale(scale)
                    .causal(layer.causal()).alignment(layer.alignment()).softcap(layer.softcap()).build()
                val absorbed = AttentionSpec.builder(layer.qHeads(), 1, layer.latentWidth()).vHeadDim(layer.kvLoraRank()).scale(scale)
                    .causal(layer.causal()).alignment(layer.alignment()).softcap(layer.softcap()).build()
                listOf(
                    KernelShape(Phase.PREFILL, naive, l, l, "prefill B=1 L=$l, naive path: ${layer.qHeads()} heads, " +
                        "d=$qk (nope ${layer.qkNopeHeadDim()} + rope ${layer.qkRopeHeadDim()}), dv=${layer.vHeadDim()}" + visibility(naive), false),
                    KernelShape(Phase.DECODE, absorbed, 1, kv, "decode B=1 1 query against a latent cache of $kv tokens, absorbed path: ${layer.qHeads()} heads " +
                        "over the shared latent, d=${layer.latentWidth()} (c_kv ${layer.kvLoraRank()} + k_pe ${layer.qkRopeHeadDim()}), " +
                        "V = c_kv", true),
                )
            }
        }
    }

    private fun visibility(spec: AttentionSpec) =
        (if (spec.causal()) ", causal" else "") + (if (spec.hasWindow()) ", window(${spec.window().left()},${spec.window().right()})" else "")

    /** Largest error of [model]'s prefill and decode kernels on [backend] against the reference, on small random inputs. */
    fun error(model: ModelConfig, backend: AttentionBackend, settings: CompareSettings): CheckOutcome {
        val n = settings.errorLen
        val small = CompareSettings(prefillLen = n, decodeKv = 2 * n + 1)
        val outcomes = shapes(model, small).map { s ->
            ReferenceChecks.kernel(s.spec, backend.name(), 1, s.qLen, s.kvLen, seed = 7, tolerance = Tolerance.FORMAT)
        }
        outcomes.firstOrNull { it is NotRun }?.let { return it }
        val all = outcomes.map { it as Agreement }
        val worst = all.maxBy { it.worstExcess }
        return Agreement("${model.name}: prefill ${n}x$n and decode over ${2 * n + 1} keys", backend.name(),
            all.maxOf { it.maxAbsError }, worst.worstExcess, Tolerance.FORMAT, all.sumOf { it.elements })
    }

    /**
     * Times one kernel: one warm-up run, then up to [CompareSettings.reps] runs within the time budget; the median.
     * Prefill times `plan.run` on dense Q/K/V. Decode times `plan.decode(q, cache)` against a float32 KV cache that
     * holds [KernelShape.kvLen] tokens (filled once, before timing); absorbed MLA uses a keys-only latent cache
     * `[c_kv | k_pe]` whose first `c` columns are the values. A backend whose `decode` cannot read a latent cache is
     * timed on `plan.run` over dense inputs instead (with `V` a view of `K`), and the result says so.
     */
    fun time(backend: AttentionBackend, shape: KernelShape, settings: CompareSettings, progress: CompareProgress): Speed {
        val spec = shape.spec
        val rnd = RandomTensors(11)
        val q = rnd.uniform(1, spec.qHeads(), shape.qLen, spec.headDim())
        val k = rnd.uniform(1, spec.kvHeads(), shape.kvLen, spec.headDim())
        // Absorbed MLA reads c_kv as the values: V is a view of K's first kvLoraRank columns, not a second copy.
        val v: FloatTensor = if (shape.vIsKeyPrefix) k.slice(3, 0, spec.vHeadDim()) else rnd.uniform(1, spec.kvHeads(), shape.kvLen, spec.vHeadDim())
        val inputs = AttentionInputs.of(q, k, v)
        val problem = inputs.validate(spec)
        val support = backend.support(problem)
        if (!support.isSupported) {
            repeat(settings.reps + 1) { progress.step("${backend.name()}: skipped") }
            return NotTimed(backend.name(), support.reasons().joinToString("; "))
        }
        var note: String? = null
        val times = mutableListOf<Double>()
        try {
            backend.plan(problem, PlanOptions.defaults().withThreads(settings.threads).withLse(false)).use { plan ->
                var call: () -> Unit = { plan.run(inputs) }
                if (shape.phase == Phase.DECODE) {
                    val cache = if (shape.vIsKeyPrefix) ContiguousKvCache(DType.FLOAT32, 1, 1, shape.kvLen, spec.headDim(), 0)
                    else ContiguousKvCache(DType.FLOAT32, 1, spec.kvHeads(), shape.kvLen, spec.headDim(), spec.vHeadDim())
                    cache.append(k, if (shape.vIsKeyPrefix) null else v)
                    call = { plan.decode(q, cache) }
                    if (shape.vIsKeyPrefix) {
                        try {
                            call()
                        } catch (e: AttentionException) {
                            note = "timed on run() over dense K/V: its decode() does not read a latent cache (${e.message})"
                            call = { plan.run(inputs) }
                        }
                    }
                }
                val warm = System.nanoTime()
                call()
                val warmMillis = (System.nanoTime() - warm) / 1e6
                progress.step("${backend.name()}: ${shape.phase.name.lowercase()} warm-up ${fmt(warmMillis)} ms")
                var spent = warmMillis
                for (r in 0 until settings.reps) {
                    if (r > 0 && spent >= settings.budgetMillis) {
                        progress.step("${backend.name()}: over the time budget, ${times.size} runs")
                        continue
                    }
                    val t0 = System.nanoTime()
                    call()
                    val ms = (System.nanoTime() - t0) / 1e6
                    times += ms
                    spent += ms
                    progress.step("${backend.name()}: ${shape.phase.name.lowercase()} ${fmt(ms)} ms")
                }
            }
        } catch (e: RuntimeException) {
            return NotTimed(backend.name(), "failed: ${e.message ?: e.javaClass.simpleName}")
        }
        times.sort()
        val median = times[times.size / 2]
        val seconds = median / 1000
        val lk = shape.kvLen.toDouble()
        val lq = shape.qLen.toDouble()
        var flops = 2.0 * spec.qHeads() * lq * lk * (spec.headDim() + spec.vHeadDim())
        if (spec.causal() && shape.qLen == shape.kvLen) flops /= 2
        val tokens = if (shape.phase == Phase.PREFILL) lq / seconds else 1 / seconds
        val bytes = if (shape.phase == Phase.DECODE) {
            val perToken = if (shape.vIsKeyPrefix) spec.headDim() else spec.headDim() + spec.vHeadDim()
            4.0 * spec.kvHeads() * lk * perToken
        } else null
        return Timed(backend.name(), median, times.size, tokens, flops / seconds / 1e9, bytes?.let { it / seconds / 1e9 }, note)
    }

    private fun environment(): String {
        val rt = Runtime.getRuntime()
        return "Java ${System.getProperty("java.version")} (${System.getProperty("java.vm.name")}), " +
            "${rt.availableProcessors()} cores, ${System.getProperty("os.name")} ${System.getProperty("os.arch")}, " +
            "max heap ${rt.maxMemory() / (1 shl 20)} MiB"
    }

    private fun fmt(ms: Double) = String.format(Locale.ROOT, "%.1f", ms)
}
