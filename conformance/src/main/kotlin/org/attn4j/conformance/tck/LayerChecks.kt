package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.KvCache
import org.attn4j.api.PagedKvCache
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.Tensor
import org.attn4j.api.Tensors
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceBackend
import kotlin.math.abs

/**
 * Whole-layer checks: MHA/MQA/GQA (biases, cross-attention, key padding masks) and MLA (both RoPE pairings, with and
 * without query LoRA, naive and absorbed paths), in one call and fed chunk by chunk through the layer's KV cache.
 * The oracle is the float64 reference layer; the tolerance comes from a float32 evaluation ([Naive32]).
 */
object LayerChecks {
    private val REFERENCE = ReferenceBackend()
    private val ON = GenePool.only(1)

    val ALL: List<TckCheck> by lazy {
        listOf(
            standard("layer/standard", "MHA/MQA/GQA self-attention layers (biases on/off, causal, windows, softcap, scale)", emptyMap()),
            standard("layer/cross-attention", "cross-attention: keys and values projected from a memory of another length", mapOf(StandardLayerGene.CROSS to ON)),
            standard("layer/key-padding-mask", "key padding masks [B, Lk] (self and cross), rows that keep no key included",
                mapOf(StandardLayerGene.KEY_PAD to ON, StandardLayerGene.CROSS to KernelGenes.sometimes(2, 0.5))),
            standardSteps("layer/kv-cache-steps", "chunked decoding through LayerPlan.newCache/step equals the reference in one call"),
            mla("layer/mla-naive", PlanOptions.MlaPath.NAIVE),
            mla("layer/mla-absorbed", PlanOptions.MlaPath.ABSORBED),
            mlaSteps(),
            standardCallerCaches(),
            mlaCallerCaches(),
            mlaPathsAgree(),
            standardReducedCache(),
            mlaReducedCache(),
        )
    }

    /** The reference forward of a layer (float64, naive MLA path). */
    private fun reference(config: LayerConfig, weights: LayerWeights, a: Activations, path: PlanOptions.MlaPath): Tensor =
        REFERENCE.planLayer(config, weights, PlanOptions(1, false, path)).use { it.forward(a.x, a.kvX, a.keyPaddingMask) }

    /** Plans [config] on [backend], or says why it is declined. */
    private fun <T> withLayer(backend: AttentionBackend, config: LayerConfig, weights: LayerWeights, path: PlanOptions.MlaPath,
                              body: (LayerPlan) -> T): Pair<T?, CaseOutcome.Declined?> {
        val support = backend.supportLayer(config)
        if (!support.isSupported) return null to CaseOutcome.Declined(support.reasons())
        return backend.planLayer(config, weights, Runs.OPTIONS.withMlaPath(path)).use { body(it) } to null
    }

    /** `y` must be `[B, L, hidden]` of the backend's dtype. */
    private fun checkY(backend: AttentionBackend, y: Tensor, shape: IntArray) {
        if (!y.shape().contentEquals(shape)) throw ContractViolation("y.shape: expected ${shape.contentToString()}, got ${y.shape().contentToString()}")
        if (y.dtype() != backend.precision().dtype() && !(backend.precisionFor(DType.FLOAT64) == Precision.FLOAT64 && y.dtype() == DType.FLOAT64)) throw ContractViolation("y.dtype: expected ${backend.precision().dtype()}, got ${y.dtype()}")
    }

    /**
     * The rounding scale of a layer's `y` ([Accuracy]'s `scale`): `max|y|`, or what the output projection sums if
     * larger, `max_n sum_m |W_o[n, m]| * max|v| + max|b_o|` with `max|v|` bounding the attention output (a convex
     * combination of value rows). On small outputs `y` can be small by cancellation while its terms are not.
     */
    private fun yScale(ref: Tensor, vBound: Double, wO: Tensor, bO: Tensor?): Double {
        val w = wO.toDoubleArray()
        val cols = wO.size(1)
        var rowSum = 0.0
        for (n in 0 until wO.size(0)) {
            var acc = 0.0
            for (m in 0 until cols) acc += abs(w[n * cols + m])
            rowSum = maxOf(rowSum, acc)
        }
        return maxOf(Accuracy.maxAbs(ref), rowSum * vBound + Accuracy.maxAbs(bO))
    }

    /** The largest `max_f sum_i |W[f, i]|` of a `[out, in]` matrix. */
    private fun maxRowAbsSum(wt: Tensor): Double {
        val w = wt.toDoubleArray()
        val cols = wt.size(1)
        var best = 0.0
        for (r in 0 until wt.size(0)) {
            var acc = 0.0
            for (c in 0 until cols) acc += abs(w[r * cols + c])
            best = maxOf(best, acc)
        }
        return best
    }

    /** Bound on `|v|` of a standard layer: `max|memory| * max_f sum_i |W_v[f, i]| + max|b_v|`. */
    private fun scaleOf(c: StandardLayerCase, ref: Tensor): Double {
        val mem = c.activations.kvX ?: c.activations.x
        val v = Accuracy.maxAbs(mem) * maxRowAbsSum(c.weights.wv()) + Accuracy.maxAbs(c.weights.bv())
        return yScale(ref, v, c.weights.wo(), c.weights.bo())
    }

    /** Bound on `|v|` of an MLA layer: `|c_kv| <= sqrt(r) max|gain|` (RMSNorm), times `max_f sum_c |W_kv_b[f, c]|`. */
    private fun scaleOf(c: MlaLayerCase, ref: Tensor): Double {
        val latent = kotlin.math.sqrt(c.kvLoraRank.toDouble()) * Accuracy.maxAbs(c.weights.kvANorm())
        return yScale(ref, latent * maxRowAbsSum(c.weights.wKvB()), c.weights.wO(), null)
    }

    private fun judge(name: String, actual: Tensor, ref: Tensor, naive: Tensor?, precision: Precision, scale: Double): CaseOutcome {
        val v = Accuracy.compare(name, actual, ref, naive, precision, scale)
        return if (v.passed) CaseOutcome.Ok(v.ratio) else CaseOutcome.Bad(v.detail!!)
    }

    /** Runs every chunk through `step` and concatenates the outputs along the sequence axis. */
    private fun steps(backend: AttentionBackend, plan: LayerPlan, a: Activations, batch: Int, hidden: Int, storage: DType? = null,
                      callerCache: CallerCache? = null, inspect: ((KvCache) -> Unit)? = null): Tensor {
        val len = a.x.size(1)
        val cache = when {
            callerCache != null -> callerCache.make(backend, plan.config(), batch, len)
            storage == null -> plan.newCache(batch, len)
            else -> plan.newCache(batch, len, storage)
        }
        if (storage != null && cache.dtype() != storage) throw ContractViolation("newCache(batch, maxLength, $storage) made a ${cache.dtype()} cache")
        val y = DoubleTensor.zeros(batch, len, hidden)
        var at = 0
        for (n in a.chunks) {
            val part = plan.step(a.x.slice(1, at, n), cache)
            checkY(backend, part, intArrayOf(batch, n, hidden))
            Tensors.copyInto(part, y.slice(1, at, n))
            at += n
        }
        for (s in 0 until batch) {
            if (cache.length(s) != len) throw ContractViolation("after steps adding up to $len tokens, the cache holds ${cache.length(s)} for sequence $s")
        }
        inspect?.invoke(cache)
        // Report in the backend's dtype so the accuracy rule sees what the backend produced.
        return if (backend.precision() == Precision.FLOAT32) org.attn4j.api.FloatTensor.copyOf(y) else y
    }

    private fun standard(name: String, description: String, profile: Map<StandardLayerGene, Domain>) = TckCheck(name, description) { backend, config ->
        PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
            val a = c.activations
            val (y, declined) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { it.forward(a.x, a.kvX, a.keyPaddingMask) }
            if (declined != null) return@run declined
            try {
                checkY(backend, y!!, intArrayOf(c.batch, c.qLen, c.hidden))
            } catch (e: ContractViolation) {
                return@run CaseOutcome.Bad(e.message!!)
            }
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, a.kvX, a.keyPaddingMask) else null
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            judge("y", y, ref, naive, backend.precision(), scaleOf(c, ref))
        }
    }

    /** Causal, bottom-right self-attention fed in chunks must equal one call (future tokens are hidden either way). */
    private fun standardSteps(name: String, description: String) = TckCheck(name, description) { backend, config ->
        val profile = mapOf(StandardLayerGene.CAUSAL to ON, StandardLayerGene.ALIGN to GenePool.only(0), StandardLayerGene.Q_LEN to GenePool.indices(LayerTables.LENGTHS.size))
        PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
            val a = c.activations
            val (pair, declined) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { plan ->
                steps(backend, plan, a, c.batch, c.hidden) to plan.forward(a.x, null, null)
            }
            if (declined != null) return@run declined
            val (stepped, oneCall) = pair!!
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, null, null) else null
            val scale = scaleOf(c, ref)
            val v = judge("y (steps ${a.chunks.contentToString()})", stepped, ref, naive, backend.precision(), scale)
            if (v !is CaseOutcome.Ok) return@run v
            val w = judge("y (one call)", oneCall, ref, naive, backend.precision(), scale)
            if (w !is CaseOutcome.Ok) return@run w
            // Metamorphic: the backend's chunked result equals its own one-call result.
            val (ratio, problem) = Agree.check("y", stepped, oneCall, 2 * Accuracy.allowance(ref, naive, backend.precision(), scale))
            if (problem != null) CaseOutcome.Bad("steps ${a.chunks.contentToString()} vs one call: $problem") else CaseOutcome.Ok(maxOf(v.ratio, w.ratio, ratio))
        }
    }

    private fun mlaProfile(path: PlanOptions.MlaPath): Map<MlaLayerGene, Domain> =
        mapOf(MlaLayerGene.PATH to GenePool.only(if (path == PlanOptions.MlaPath.ABSORBED) 1 else 0))

    private fun mla(name: String, path: PlanOptions.MlaPath) = TckCheck(name,
        "MLA layers on the ${path.name.lowercase()} path: RoPE halves and interleaved, with and without q LoRA, offsets, key padding") { backend, config ->
        PropertyRunner.run(name, MlaLayerCase.arb(mlaProfile(path)), config, config.layerIterations) { c ->
            val a = c.activations
            val (y, declined) = withLayer(backend, c.config, c.weights, c.path) { it.forward(a.x, null, a.keyPaddingMask) }
            if (declined != null) return@run declined
            try {
                checkY(backend, y!!, intArrayOf(c.batch, c.len, c.hidden))
            } catch (e: ContractViolation) {
                return@run CaseOutcome.Bad(e.message!!)
            }
            val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, a.keyPaddingMask) else null
            val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
            judge("y", y, ref, naive, backend.precision(), scaleOf(c, ref))
        }
    }

    /** MLA fed through its latent cache in chunks equals the reference in one call (causal, bottom-right). */
    private fun mlaSteps(): TckCheck {
        val name = "layer/mla-kv-cache-steps"
        return TckCheck(name, "MLA decoding through the latent cache (both paths) equals the reference in one call") { backend, config ->
            val profile = mapOf(MlaLayerGene.CAUSAL to GenePool.only(1), MlaLayerGene.ALIGN to GenePool.only(0), MlaLayerGene.KEY_PAD to GenePool.only(0))
            PropertyRunner.run(name, MlaLayerCase.arb(profile), config, config.layerIterations) { c ->
                val a = c.activations
                val (stepped, declined) = withLayer(backend, c.config, c.weights, c.path) { plan -> steps(backend, plan, a, c.batch, c.hidden) }
                if (declined != null) return@run declined
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, null) else null
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                judge("y (steps ${a.chunks.contentToString()})", stepped!!, ref, naive, backend.precision(), scaleOf(c, ref))
            }
        }
    }

    /**
     * Caches a caller may hand to `LayerPlan.step` instead of `newCache`'s (a serving stack that owns its paged memory):
     * any cache of the layer's [LayerConfig.cacheSpec] geometry is valid. float32 and float64 only, so the oracle needs
     * no storage allowance.
     */
    internal enum class CallerCache(val label: String) {
        CONTIGUOUS_F64("ContiguousKvCache float64"),
        /** float32 for a float32 backend: float32 storage would round a float64 backend's keys (a reduced cache to it) */
        PAGED_NATIVE("PagedKvCache of the backend's precision, pages of 1..5 tokens"),
        PAGED_F64("PagedKvCache float64, pages of 1..5 tokens");

        fun make(backend: AttentionBackend, config: LayerConfig, batch: Int, len: Int): KvCache {
            val spec = config.cacheSpec(if (this == PAGED_NATIVE) backend.precision().dtype() else DType.FLOAT64, batch, len)
            if (this == CONTIGUOUS_F64) return ContiguousKvCache(spec)
            val pageSize = 1 + Math.floorMod(len * 31 + batch, 5)
            val pages = batch * ((len + pageSize - 1) / pageSize) + 1
            return PagedKvCache(spec.dtype(), batch, spec.kvHeads(), spec.headDim(), spec.vHeadDim(), pageSize, pages, maxOf(len, 1))
        }

        companion object {
            fun of(seed: Long) = entries[Math.floorMod(seed, entries.size.toLong()).toInt()]

            /**
             * The drawn kind, and a float64 one when the drawn kind is not: every case then steps over a cache a
             * float32 backend cannot read in place (a copy whose per-sequence offsets must be right), even in a short
             * run such as the mutation profile's 4 layer cases per check.
             */
            fun kindsFor(seed: Long): List<CallerCache> = of(seed).let { if (it == PAGED_NATIVE) listOf(it, CONTIGUOUS_F64) else listOf(it) }
        }
    }

    private fun standardCallerCaches(): TckCheck {
        val name = "layer/kv-cache-steps-caller-caches"
        return TckCheck(name, "MHA/MQA/GQA steps over caches the caller made: ${CallerCache.entries.joinToString(", ") { it.label }}") { backend, config ->
            // two or three sequences: a copied or paged cache's per-sequence offsets must matter
            val profile = mapOf(StandardLayerGene.CAUSAL to ON, StandardLayerGene.ALIGN to GenePool.only(0), StandardLayerGene.Q_LEN to GenePool.indices(LayerTables.LENGTHS.size),
                StandardLayerGene.BATCH to Domain.Values(intArrayOf(1, 2)))
            PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
                val a = c.activations
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, null, null) else null
                var outcome: CaseOutcome = CaseOutcome.Ok()
                for (kind in CallerCache.kindsFor(c.dataSeed)) {
                    val (stepped, declined) = try {
                        withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { plan -> steps(backend, plan, a, c.batch, c.hidden, callerCache = kind) }
                    } catch (e: ContractViolation) {
                        return@run CaseOutcome.Bad("${kind.label}: ${e.message}")
                    }
                    if (declined != null) return@run declined
                    val judged = judge("y (steps ${a.chunks.contentToString()}, ${kind.label})", stepped!!, ref, naive, backend.precision(), scaleOf(c, ref))
                    if (judged !is CaseOutcome.Ok) return@run judged
                    if (judged.ratio >= (outcome as CaseOutcome.Ok).ratio) outcome = judged // the worst kind's ratio
                }
                outcome
            }
        }
    }

    private fun mlaCallerCaches(): TckCheck {
        val name = "layer/mla-kv-cache-steps-caller-caches"
        return TckCheck(name, "MLA steps (both paths) over latent caches the caller made: ${CallerCache.entries.joinToString(", ") { it.label }}") { backend, config ->
            val profile = mapOf(MlaLayerGene.CAUSAL to GenePool.only(1), MlaLayerGene.ALIGN to GenePool.only(0), MlaLayerGene.KEY_PAD to GenePool.only(0),
                MlaLayerGene.BATCH to Domain.Values(intArrayOf(1, 2)))
            PropertyRunner.run(name, MlaLayerCase.arb(profile), config, config.layerIterations) { c ->
                val a = c.activations
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, null) else null
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                var outcome: CaseOutcome = CaseOutcome.Ok()
                for (kind in CallerCache.kindsFor(c.dataSeed)) {
                    val (stepped, declined) = try {
                        withLayer(backend, c.config, c.weights, c.path) { plan -> steps(backend, plan, a, c.batch, c.hidden, callerCache = kind) }
                    } catch (e: ContractViolation) {
                        return@run CaseOutcome.Bad("${kind.label}: ${e.message}")
                    }
                    if (declined != null) return@run declined
                    val judged = judge("y (steps ${a.chunks.contentToString()}, ${kind.label}, ${c.path} path)", stepped!!, ref, naive, backend.precision(), scaleOf(c, ref))
                    if (judged !is CaseOutcome.Ok) return@run judged
                    if (judged.ratio >= (outcome as CaseOutcome.Ok).ratio) outcome = judged // the worst kind's ratio
                }
                outcome
            }
        }
    }

    /** Metamorphic: the naive and absorbed paths of the same backend agree. */
    private fun mlaPathsAgree(): TckCheck {
        val name = "meta/mla-paths-agree"
        return TckCheck(name, "the backend's naive and absorbed MLA paths give the same output") { backend, config ->
            PropertyRunner.run(name, MlaLayerCase.arb(emptyMap()), config, config.layerIterations, resample = true) { c ->
                val a = c.activations
                val (naivePath, d1) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { it.forward(a.x, null, a.keyPaddingMask) }
                if (d1 != null) return@run d1
                val (absorbed, d2) = withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.ABSORBED) { it.forward(a.x, null, a.keyPaddingMask) }
                if (d2 != null) return@run d2
                val ref = reference(c.config, c.weights, a, PlanOptions.MlaPath.NAIVE)
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, a.keyPaddingMask) else null
                val (ratio, problem) = Agree.check("y", naivePath!!, absorbed!!, 2 * Accuracy.allowance(ref, naive, backend.precision(), scaleOf(c, ref)))
                if (problem != null) CaseOutcome.Bad("naive vs absorbed path: $problem") else CaseOutcome.Ok(ratio)
            }
        }
    }

    // ---- reduced KV caches: the oracle is the float64 reference with a float64 cache, off by the storage rounding ----

    /**
     * The largest error storing one element of a row whose largest `|x|` is at most [m] in [dtype] can make
     * ([org.attn4j.api.Quantization]): bfloat16 rounds to 8 significant bits (unit roundoff `2^-8`), float16 to 11
     * (`2^-11`, plus half its smallest subnormal `2^-25`), int8 is off by at most half a step, `scale / 2` with
     * `scale = max|row| / 127`. `2^-20 m` more covers the float32 rounding of what a float32 backend stores and of int8's scale.
     */
    private const val TWO_M8 = 1.0 / (1 shl 8)
    private const val TWO_M11 = 1.0 / (1 shl 11)
    private const val TWO_M20 = 1.0 / (1 shl 20)
    private const val TWO_M25 = 1.0 / (1 shl 25)

    internal fun storageError(dtype: DType, m: Double): Double = m * TWO_M20 + when (dtype) {
        DType.BFLOAT16 -> m * TWO_M8
        DType.FLOAT16 -> m * TWO_M11 + TWO_M25
        DType.INT8 -> m / 254
        else -> 0.0
    }

    /** The tolerance formula, as written into the TCK report (one note per storage type). */
    private fun toleranceNote(dtype: DType): String = "$dtype cache: |y - ref64| <= rule + max_n sum_m |W_o[n,m]| * ((e^(2 ds) - 1) * max|v| + e_v), " +
        "ds = scale * max_h sum |q_h| * e_k, e = " + when (dtype) {
            DType.BFLOAT16 -> "2^-8 max|x|"
            DType.FLOAT16 -> "2^-11 max|x| + 2^-25"
            DType.INT8 -> "max|x| / 254 (half an int8 step)"
            else -> "0"
        } + " per element (+ 2^-20 max|x|); every stored element within that e of the exact one; and |y - ref64 over the backend's " +
        "own stored values (read back)| <= rule, no shift"

    /**
     * How far attention over stored K/V can move from attention over the exact ones, through the layer's output
     * projection. With every key element off by at most [eK] and every value element by [eV], a score moves by at most
     * `ds = scale * ||q||_1 * eK` ([qNorm1] bounds `||q||_1`; a softcap only shrinks it); then each softmax weight moves
     * by a factor within `e^(+-2 ds)`, so the weights by at most `e^(2 ds) - 1` in sum, and the attention output by
     * `(e^(2 ds) - 1) * (max|v| + eV) + eV`; `y` by [wO]'s largest absolute row sum times that.
     */
    private fun storageShift(scale: Double, qNorm1: Double, eK: Double, vMax: Double, eV: Double, wO: Tensor): Double {
        val ds = scale * qNorm1 * eK
        return maxRowAbsSum(wO) * (Math.expm1(2 * ds) * (vMax + eV) + eV)
    }

    /** `max|x|` of every key (or latent) and value in a float64 cache of [sequences] sequences: `(keys, values)`. */
    private fun cacheMax(cache: org.attn4j.api.KvCache, sequences: Int): Pair<Double, Double> {
        var k = 0.0
        var v = 0.0
        for (s in 0 until sequences) {
            k = maxOf(k, Accuracy.maxAbs(cache.keys(s)))
            if (cache.vHeadDim() > 0) v = maxOf(v, Accuracy.maxAbs(cache.values(s)))
        }
        return k to v
    }

    /**
     * The float64 reference layer fed in [a]'s chunks through a float64 cache, or with [replay] through a float64 cache
     * that takes, in place of each appended row, the backend's stored row at that position. `y` and the cache.
     */
    private fun referenceSteps(config: LayerConfig, weights: LayerWeights, a: Activations, batch: Int, hidden: Int,
                               replay: StoredCache? = null): Pair<Tensor, KvCache> =
        REFERENCE.planLayer(config, weights, PlanOptions(1, false, PlanOptions.MlaPath.NAIVE)).use { plan ->
            val len = a.x.size(1)
            val cache = if (replay == null) plan.newCache(batch, len) else Replay(plan.newCache(batch, len), replay)
            val y = DoubleTensor.zeros(batch, len, hidden)
            var at = 0
            for (n in a.chunks) {
                Tensors.copyInto(plan.step(a.x.slice(1, at, n), cache), y.slice(1, at, n))
                at += n
            }
            y to cache
        }

    /**
     * Judges [stepped] against [expected] (the reference over a float64 cache, or over the backend's stored values): the
     * accuracy rule's allowance (from [ref64] and [naive], as for a float64 cache) plus [shift]; [against] names the
     * oracle in a failure.
     */
    private fun judgeShifted(what: String, stepped: Tensor, expected: Tensor, ref64: Tensor, naive: Tensor?, precision: Precision,
                             scale: Double, shift: Double, against: String, notes: List<String> = emptyList()): CaseOutcome {
        val allowed = Accuracy.allowance(ref64, naive, precision, scale) + shift
        val (ratio, problem) = Agree.check("y", stepped, expected, allowed)
        return if (problem != null) CaseOutcome.Bad("$what against $against (allowed: accuracy rule + shift %.3g): $problem".format(shift))
        else CaseOutcome.Ok(ratio, notes)
    }

    /**
     * What the backend's reduced cache holds, read back after its steps: per sequence the keys (or latent) and the
     * values (empty for a keys-only cache) as float64, each `[kvHeads, length, width]`.
     */
    private class StoredCache(val keys: List<DoubleArray>, val values: List<DoubleArray>)

    /**
     * A float64 cache that stores, in place of what the reference appends, the backend's stored elements at the same
     * positions: the reference stepped through it attends over exactly the values the backend's cache holds, so what
     * is left between the two is the backend's float32 arithmetic (a past row of a cache never changes, so the rows
     * read back after the last step are the rows every earlier step attended over).
     */
    private class Replay(private val inner: KvCache, private val stored: StoredCache) : KvCache by inner {
        override fun append(k: Tensor, v: Tensor?) {
            for (s in 0 until inner.sequences()) append(s, k.select(0, s), v?.select(0, s))
        }

        override fun append(sequence: Int, k: Tensor, v: Tensor?) =
            inner.append(sequence, rows(stored.keys[sequence], k, sequence), v?.let { rows(stored.values[sequence], it, sequence) })

        /** The stored rows `[heads, n, width]` that replace [chunk], from the sequence's `[heads, length, width]`. */
        private fun rows(all: DoubleArray, chunk: Tensor, sequence: Int): Tensor {
            val (heads, n, width) = Triple(chunk.size(0), chunk.size(1), chunk.size(2))
            val length = all.size / (heads * width)
            val at = inner.length(sequence)
            return DoubleTensor.of(DoubleArray(heads * n * width) { i ->
                val h = i / (n * width)
                val t = i / width % n
                all[(h * length + at + t) * width + i % width]
            }, heads, n, width)
        }
    }

    private fun readBack(cache: KvCache, sequences: Int): StoredCache {
        val k = (0 until sequences).map { cache.keys(it).toDoubleArray() }
        val v = (0 until sequences).map { if (cache.vHeadDim() > 0) cache.values(it).toDoubleArray() else DoubleArray(0) }
        return StoredCache(k, v)
    }

    /**
     * Every element the backend stored ([stored]: keys, and values unless the cache is keys-only) is the exact (float64)
     * element rounded to [dtype]: within [storageError] of the reference's float64 cache, the same count, finite. Throws
     * [ContractViolation] naming the first that is not.
     */
    private fun requireStored(stored: StoredCache, exact: KvCache, dtype: DType) {
        requireStored("keys", stored.keys, exact, false, dtype)
        if (exact.vHeadDim() > 0) requireStored("values", stored.values, exact, true, dtype)
    }

    private fun requireStored(what: String, backend: List<DoubleArray>, exact: KvCache, values: Boolean, dtype: DType) {
        for (s in backend.indices) {
            val want = (if (values) exact.values(s) else exact.keys(s)).toDoubleArray()
            val got = backend[s]
            if (got.size != want.size) throw ContractViolation("cache.$what($s) holds ${got.size} elements after the steps, the reference's ${want.size}")
            val limit = storageError(dtype, want.maxOfOrNull { abs(it) } ?: 0.0)
            for (i in want.indices) {
                if (!got[i].isFinite()) throw ContractViolation("cache.$what($s) holds ${got[i]} at flat index $i after finite steps")
                if (abs(got[i] - want[i]) > limit) throw ContractViolation("cache.$what($s) holds %.9g at flat index $i, the exact element is %.9g: "
                    .format(got[i], want[i]) + "more than one $dtype rounding apart (at most %.3g)".format(limit))
            }
        }
    }

    private const val OVER_FLOAT64 = "the float64 reference with a float64 cache (storage shift: the worst-case bound)"

    /**
     * Over the backend's own stored elements (read back, [Replay]) nothing is left to the storage: a kernel that reads a
     * stored element wrong cannot hide in the storage bound.
     */
    private const val OVER_STORED = "the float64 reference over the backend's own stored values (no storage shift)"

    /** Both judgements pass, or the first that fails; the larger ratio. */
    private fun both(loose: CaseOutcome, tight: CaseOutcome): CaseOutcome = when {
        loose is CaseOutcome.Bad -> loose
        tight is CaseOutcome.Bad -> tight
        else -> CaseOutcome.Ok(maxOf((loose as CaseOutcome.Ok).ratio, (tight as CaseOutcome.Ok).ratio), loose.notes)
    }

    private val REDUCED_CACHE = Domain.Values(intArrayOf(1, 2, 3))

    /**
     * MHA/MQA/GQA decoding through `LayerPlan.newCache(batch, maxLength, storage)` with a float16, bfloat16 or int8 cache
     * equals the float64 reference with a float64 cache, up to the rounding the storage makes ([storageShift]).
     */
    private fun standardReducedCache(): TckCheck {
        val name = "layer/reduced-kv-cache"
        return TckCheck(name, "chunked decoding through a float16/bfloat16/int8 KV cache equals the float64 reference (float64 cache) within the storage rounding") { backend, config ->
            val profile = mapOf(StandardLayerGene.CAUSAL to ON, StandardLayerGene.ALIGN to GenePool.only(0),
                StandardLayerGene.Q_LEN to GenePool.indices(LayerTables.LENGTHS.size), StandardLayerGene.CACHE_DTYPE to REDUCED_CACHE)
            PropertyRunner.run(name, StandardLayerCase.arb(profile), config, config.layerIterations) { c ->
                StorageChecks.declined(backend, c.cacheDtype)?.let { return@run it }
                val a = c.activations
                var stored: StoredCache? = null
                val (stepped, declined) = try {
                    withLayer(backend, c.config, c.weights, PlanOptions.MlaPath.NAIVE) { plan ->
                        steps(backend, plan, a, c.batch, c.hidden, c.cacheDtype, inspect = { stored = readBack(it, c.batch) })
                    }
                } catch (e: ContractViolation) {
                    return@run CaseOutcome.Bad(e.message!!)
                }
                if (declined != null) return@run declined
                val (ref, cache) = referenceSteps(c.config, c.weights, a, c.batch, c.hidden)
                try {
                    requireStored(stored!!, cache, c.cacheDtype)
                } catch (e: ContractViolation) {
                    return@run CaseOutcome.Bad(e.message!!)
                }
                val refStored = referenceSteps(c.config, c.weights, a, c.batch, c.hidden, replay = stored).first
                val (kMax, vMax) = cacheMax(cache, c.batch)
                // ||q||_1 per head <= sum over its features of max|x| * sum_i |W_q[f, i]| + |b_q[f]|.
                val xMax = Accuracy.maxAbs(a.x)
                val wq = c.weights.wq().toDoubleArray()
                val bq = c.weights.bq()?.toDoubleArray()
                var qNorm1 = 0.0
                for (h in 0 until c.qHeads) {
                    var acc = 0.0
                    for (f in h * c.headDim until (h + 1) * c.headDim) {
                        var row = 0.0
                        for (i in 0 until c.hidden) row += abs(wq[f * c.hidden + i])
                        acc += xMax * row + (bq?.get(f)?.let { abs(it) } ?: 0.0)
                    }
                    qNorm1 = maxOf(qNorm1, acc)
                }
                val shift = storageShift(c.config.attentionSpec().effectiveScale(), qNorm1, storageError(c.cacheDtype, kMax), vMax,
                    storageError(c.cacheDtype, vMax), c.weights.wo())
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.standardLayer(c.config, c.weights, a.x, null, null) else null
                val what = "y (steps ${a.chunks.contentToString()}, ${c.cacheDtype} cache)"
                both(judgeShifted(what, stepped!!, ref, ref, naive, backend.precision(), scaleOf(c, ref), shift, OVER_FLOAT64, listOf(toleranceNote(c.cacheDtype))),
                    judgeShifted(what, stepped, refStored, ref, naive, backend.precision(), scaleOf(c, ref), 0.0, OVER_STORED))
            }
        }
    }

    /**
     * MLA decoding through a float16, bfloat16 or int8 latent cache (both paths). Each latent row `[c_kv | k_pe]` is
     * off by at most `e` per element; a head's score by `scale * (sum_m |q_m| sum_c |W_UK[m, c]| + sum_r |q_pe,r|) * e`
     * and its values by `max_m sum_c |W_UV[m, c]| * e`, with `|q|` bounded from the weights (RoPE by `sqrt 2` per pair).
     */
    private fun mlaReducedCache(): TckCheck {
        val name = "layer/mla-reduced-kv-cache"
        return TckCheck(name, "MLA decoding through a float16/bfloat16/int8 latent cache equals the float64 reference (float64 cache) within the storage rounding") { backend, config ->
            val profile = mapOf(MlaLayerGene.CAUSAL to GenePool.only(1), MlaLayerGene.ALIGN to GenePool.only(0), MlaLayerGene.KEY_PAD to GenePool.only(0),
                MlaLayerGene.CACHE_DTYPE to REDUCED_CACHE)
            PropertyRunner.run(name, MlaLayerCase.arb(profile), config, config.layerIterations) { c ->
                StorageChecks.declined(backend, c.cacheDtype)?.let { return@run it }
                val a = c.activations
                var stored: StoredCache? = null
                val (stepped, declined) = try {
                    withLayer(backend, c.config, c.weights, c.path) { plan ->
                        steps(backend, plan, a, c.batch, c.hidden, c.cacheDtype, inspect = { stored = readBack(it, c.batch) })
                    }
                } catch (e: ContractViolation) {
                    return@run CaseOutcome.Bad(e.message!!)
                }
                if (declined != null) return@run declined
                val (ref, cache) = referenceSteps(c.config, c.weights, a, c.batch, c.hidden)
                try {
                    requireStored(stored!!, cache, c.cacheDtype)
                } catch (e: ContractViolation) {
                    return@run CaseOutcome.Bad(e.message!!)
                }
                val refStored = referenceSteps(c.config, c.weights, a, c.batch, c.hidden, replay = stored).first
                val latentMax = cacheMax(cache, c.batch).first
                val e = storageError(c.cacheDtype, latentMax)
                val w = c.weights
                // Bound on each query feature before RoPE: plain projection, or RMSNorm'd q latent (|c_q| <= sqrt(r) max|gain|).
                val (qw, qIn) = if (c.qLoraRank == 0) w.wQ() to Accuracy.maxAbs(a.x)
                else w.wQB() to kotlin.math.sqrt(c.qLoraRank.toDouble()) * Accuracy.maxAbs(w.qANorm())
                val qd = qw.toDoubleArray()
                val qCols = qw.size(1)
                fun qBound(f: Int): Double {
                    var row = 0.0
                    for (i in 0 until qCols) row += abs(qd[f * qCols + i])
                    return qIn * row
                }
                val kvb = w.wKvB().toDoubleArray()
                val r = c.kvLoraRank
                fun rowAbs(row: Int): Double {
                    var acc = 0.0
                    for (i in 0 until r) acc += abs(kvb[row * r + i])
                    return acc
                }
                val qk = c.nope + c.rope
                var scoreWeight = 0.0
                var uvRow = 0.0
                for (h in 0 until c.heads) {
                    var acc = 0.0
                    for (m in 0 until c.nope) acc += qBound(h * qk + m) * rowAbs(h * (c.nope + c.vHeadDim) + m)
                    var pe = 0.0
                    for (m in c.nope until qk) pe = maxOf(pe, qBound(h * qk + m))
                    acc += c.rope * kotlin.math.sqrt(2.0) * pe
                    scoreWeight = maxOf(scoreWeight, acc)
                    for (m in 0 until c.vHeadDim) uvRow = maxOf(uvRow, rowAbs(h * (c.nope + c.vHeadDim) + c.nope + m))
                }
                val shift = storageShift(c.config.attentionSpec().effectiveScale(), scoreWeight, e, uvRow * latentMax, uvRow * e, w.wO())
                val naive = if (backend.precision() == Precision.FLOAT32) Naive32.mlaLayer(c.config, c.weights, a.x, null) else null
                val what = "y (steps ${a.chunks.contentToString()}, ${c.cacheDtype} latent cache, ${c.path} path)"
                both(judgeShifted(what, stepped!!, ref, ref, naive, backend.precision(), scaleOf(c, ref), shift, OVER_FLOAT64, listOf(toleranceNote(c.cacheDtype))),
                    judgeShifted(what, stepped, refStored, ref, naive, backend.precision(), scaleOf(c, ref), 0.0, OVER_STORED))
            }
        }
    }
}
