package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionPlan
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import org.attn4j.conformance.tck.KernelGenes.GQA_PROPER
import org.attn4j.conformance.tck.KernelGenes.GROUPED
import org.attn4j.conformance.tck.KernelGenes.HEAD_DIMS
import org.attn4j.conformance.tck.KernelGenes.HEAD_PAIRS
import org.attn4j.conformance.tck.KernelGenes.LENGTHS
import org.attn4j.conformance.tck.KernelGenes.force
import org.attn4j.conformance.tck.KernelGenes.heads
import org.attn4j.conformance.tck.KernelGenes.maybe
import java.util.SplittableRandom
import java.util.concurrent.Callable
import java.util.concurrent.Executors

/** Kernel checks against the float64 reference: one per feature, plus the KV-cache, plan and bad-input contracts. */
object KernelChecks {
    private val MHA = HEAD_PAIRS.indices.filter { HEAD_PAIRS[it].first == HEAD_PAIRS[it].second }.toIntArray()

    /** Lengths where at least one side is often 0 (index 1 of [LENGTHS] is 0). */
    private val OFTEN_EMPTY = GenePool.indices(LENGTHS.size) { if (LENGTHS[it] == 0) LENGTHS.size.toDouble() else 1.0 }

    private fun profile(vararg parts: Map<KernelGene, Domain>): Map<KernelGene, Domain> = parts.fold(emptyMap()) { acc, m -> acc + m }

    private fun on(gene: KernelGene, vararg values: Int): Map<KernelGene, Domain> = mapOf(gene to Domain.Values(values))

    /** Every kernel check, cheapest and most basic first. */
    val ALL: List<TckCheck> by lazy {
        listOf(
            oracle("kernel/basic", "MHA without options: batch 1..4, lengths 0..1025, head dims 1..256", mandatory = true,
                profile = mapOf(KernelGene.HEADS to heads(MHA))),
            oracle("kernel/grouped-heads", "MQA and GQA of every group count: query head h reads KV head h / (Hq / Hkv)",
                profile(mapOf(KernelGene.HEADS to heads(GROUPED)), maybe(0.3, KernelGene.CAUSAL))),
            oracle("kernel/gqa-proper", "GQA with 1 < Hkv < Hq, where h / group and h % Hkv differ",
                profile(mapOf(KernelGene.HEADS to heads(GQA_PROPER)))),
            oracle("kernel/causal-bottom-right", "causal, diagonal i + Lk - Lq (decoding alignment), Lq != Lk included",
                profile(force(KernelGene.CAUSAL))),
            oracle("kernel/causal-top-left", "causal, diagonal i (top-left alignment)",
                profile(force(KernelGene.CAUSAL, KernelGene.ALIGN))),
            oracle("kernel/window", "local windows: left only, right only, both; with and without causal, both alignments",
                profile(force(KernelGene.WINDOW), maybe(0.5, KernelGene.CAUSAL, KernelGene.ALIGN))),
            oracle("kernel/softcap", "softcap before the bias (FORMAT step 2 then 3)",
                profile(force(KernelGene.SOFTCAP), maybe(0.6, KernelGene.BIAS), maybe(0.3, KernelGene.CAUSAL))),
            oracle("kernel/scale", "explicit scales instead of 1/sqrt(D)", profile(force(KernelGene.SCALE))),
            oracle("kernel/v-head-dim", "V width different from the Q/K width",
                mapOf(KernelGene.V_DIM to Domain.Values(IntArray(HEAD_DIMS.size) { it + 1 }))),
            oracle("kernel/bias", "additive bias in every broadcast shape ([Lk], [Lq,Lk], [B,1,1,Lk], [H,1,Lk], ...)",
                profile(force(KernelGene.BIAS), maybe(0.3, KernelGene.CAUSAL))),
            oracle("kernel/mask", "bool masks in every broadcast shape, dense to all-false",
                profile(force(KernelGene.MASK), maybe(0.3, KernelGene.CAUSAL))),
            oracle("kernel/alibi", "ALiBi slopes: s -= slope[h] * |d_i - j|",
                profile(force(KernelGene.ALIBI), maybe(0.5, KernelGene.CAUSAL, KernelGene.ALIGN))),
            oracle("kernel/sinks", "per-head sink logits in the softmax denominator (also on rows that see no key)",
                profile(force(KernelGene.SINKS), maybe(0.4, KernelGene.MASK, KernelGene.CAUSAL))),
            oracle("kernel/kv-lens", "per-sequence kv_lens, including 0 and the full length",
                profile(force(KernelGene.KV_LENS), maybe(0.5, KernelGene.CAUSAL))),
            oracle("kernel/fully-masked-rows", "rows that see no key: out 0 (never NaN), lse -inf (or the sink)",
                profile(force(KernelGene.MASK), on(KernelGene.MASK_FILL, MaskFill.DEAD_ROWS.ordinal, MaskFill.ALL_FALSE.ordinal, MaskFill.SPARSE.ordinal),
                    maybe(0.3, KernelGene.KV_LENS, KernelGene.SINKS, KernelGene.CAUSAL))),
            oracle("kernel/large-scores", "scores of magnitude 300 and 1e4 (the max must be subtracted before exp)",
                profile(on(KernelGene.SCORE_MAG, 5, 6), maybe(0.3, KernelGene.CAUSAL, KernelGene.MASK, KernelGene.SINKS, KernelGene.BIAS))),
            oracle("kernel/magnitudes", "tiny and large scores and values (1e-3 .. 1e4, V 1e-3 .. 1e3)",
                profile(on(KernelGene.V_MAG, 1, 2), maybe(0.3, KernelGene.CAUSAL))),
            oracle("kernel/empty", "q_len or kv_len 0",
                profile(mapOf(KernelGene.Q_LEN to OFTEN_EMPTY, KernelGene.KV_LEN to OFTEN_EMPTY), maybe(0.3, KernelGene.CAUSAL, KernelGene.SINKS, KernelGene.KV_LENS))),
            oracle("kernel/layouts", "strided inputs: [B,L,H,D] views, padded rows with an offset and a last-axis stride of 2, rows off the row pitch, float64 tensors",
                profile(force(KernelGene.LAYOUT), maybe(0.3, KernelGene.CAUSAL, KernelGene.MASK))),
            oracle("kernel/everything", "every option at once, each on with probability 0.3", KernelGenes.everything()),
            decode("kernel/decode-contiguous-cache", paged = false),
            decode("kernel/decode-paged-cache", paged = true),
            decodeKeysOnly(),
            planReuse(),
            sharedPlan(),
            planThreads(),
            rejectsBadInput(),
            withoutLse(),
            RangeChecks.check(),
        )
    }

    /**
     * Cases of [profile] for a contract check, restricted to what [backend] supports ([KernelGenes.narrowed]): such a
     * check tests plumbing every backend has, so it must not be skipped because the backend lacks some feature.
     */
    internal fun contractArb(backend: AttentionBackend, name: String, profile: Map<KernelGene, Domain>, config: TckConfig) =
        KernelGenes.arb(KernelGenes.narrowed(backend, profile, config.maxCost, config.seedFor(name) xor 0x5DEECE66DL), config.maxCost)

    /** A check comparing the backend with the float64 reference on cases of [profile]. */
    fun oracle(name: String, description: String, profile: Map<KernelGene, Domain>, mandatory: Boolean = false): TckCheck =
        TckCheck(name, description, mandatory) { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, config.iterations) { judge(backend, it) }
        }

    /** Runs [case] on [backend] and applies the accuracy rule. */
    fun judge(backend: AttentionBackend, case: KernelCase): CaseOutcome {
        val ran = try {
            Runs.kernel(backend, case.spec, case.inputs)
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        return when (ran) {
            is Runs.Ran.Declined -> CaseOutcome.Declined(ran.reasons)
            is Runs.Ran.Done -> Runs.precisionOf(backend, (ran.output).out()).let { p -> Expected.of(case.spec, case.inputs, p).judge(ran.output, p) }
        }
    }

    /** Decoding over a KV cache filled chunk by chunk (per sequence, interleaved) must equal attention with kv_lens. */
    private fun decode(name: String, paged: Boolean): TckCheck {
        val profile = profile(maybe(0.5, KernelGene.CAUSAL), maybe(0.3, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.SCALE))
        val what = if (paged) "a PagedKvCache (page sizes 1..16, pages of all sequences interleaved)" else "the backend's own newKvCache"
        return TckCheck(name, "AttentionPlan.decode over $what, sequences of different lengths, equals the reference with kv_lens") { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, config.iterations) { decodeCase(backend, it, paged) }
        }
    }

    /**
     * A keys-only (MLA latent, `vHeadDim == 0`) cache decoded by a plan whose values are the first `vHeadDim` columns of
     * each key row (MLA's absorbed form). The API does not require it: an [AttentionException] from `decode` on such a
     * cache is a decline with its message.
     */
    private fun decodeKeysOnly(): TckCheck {
        val name = "kernel/decode-keys-only-cache"
        val profile = profile(maybe(0.5, KernelGene.CAUSAL), maybe(0.3, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.SCALE))
        return TckCheck(name, "AttentionPlan.decode over a keys-only (MLA latent) cache, values read from the key rows: equals the reference with v = k[..., :v_head_dim] and kv_lens") { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, config.iterations) { keysOnlyCase(backend, it) }
        }
    }

    internal fun keysOnlyCase(backend: AttentionBackend, drawn: KernelCase): CaseOutcome {
        val c = if (drawn.vHeadDim > drawn.headDim) drawn.copy(vHeadDim = drawn.headDim) else drawn
        val rnd = SplittableRandom(c.dataSeed xor 0x3C6EF372FE94F82BL)
        val lens = IntArray(c.batch) { rnd.nextInt(c.kvLen + 1) }
        lens[rnd.nextInt(c.batch)] = c.kvLen
        val base = c.inputs
        val k = base.k()
        val inputs = AttentionInputs(base.q(), k, k.slice(3, 0, c.vHeadDim), base.bias(), base.mask(), base.alibiSlopes(),
            base.sinks(), IntTensor.of(lens, c.batch), base.scoreMod(), base.maskMod())
        val problem = inputs.validate(c.spec)
        val support = backend.support(problem)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val cache = backend.newKvCache(KvCacheSpec(backend.precision().dtype(), c.batch, c.kvHeads, maxOf(1, c.kvLen), c.headDim, 0))
        for (b in 0 until c.batch) cache.append(b, k.select(0, b).slice(1, 0, lens[b]), null)
        backend.plan(problem, Runs.OPTIONS).use { plan ->
            val out = try {
                plan.decode(inputs.q(), cache)
            } catch (e: AttentionException) {
                return CaseOutcome.Declined(listOf("decode over a keys-only cache: ${e.message}"))
            }
            return judgeOutput(backend, c, inputs, out)
        }
    }

    /** [c] decoded over a cache: a [PagedKvCache] of [pageSize] tokens per page (random when null), or the backend's own. */
    internal fun decodeCase(backend: AttentionBackend, c: KernelCase, paged: Boolean, pageSize: Int? = null,
                            options: PlanOptions = Runs.OPTIONS, thenRun: Boolean = false): CaseOutcome {
        val rnd = SplittableRandom(c.dataSeed xor 0x2545F4914F6CDD1DL)
        val lens = IntArray(c.batch) { rnd.nextInt(c.kvLen + 1) }
        lens[rnd.nextInt(c.batch)] = c.kvLen                     // the longest sequence sets the padded length
        val inputs = c.inputs.withKvLens(IntTensor.of(lens, c.batch))
        val problem = inputs.validate(c.spec)
        val support = backend.support(problem)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        // A reduced case is decoded over a cache of its own type: the stored K/V are appended unchanged (int8 rows with their scales).
        val reduced = c.kvDtype.isReduced()
        val cache: KvCache = if (paged) {
            val pageSize = intArrayOf(1, 2, 3, 4, 7, 8, 16)[rnd.nextInt(7)].let { pageSize ?: it }
            val pages = lens.sumOf { (it + pageSize - 1) / pageSize } + 1
            PagedKvCache(if (reduced) c.kvDtype else backend.precision().dtype(), c.batch, c.kvHeads, c.headDim, c.vHeadDim, pageSize, pages, c.kvLen)
        } else if (reduced) {
            backend.newKvCache(KvCacheSpec(c.kvDtype, c.batch, c.kvHeads, c.kvLen, c.headDim, c.vHeadDim))
        } else {
            backend.newKvCache(c.batch, c.kvHeads, c.kvLen, c.headDim, c.vHeadDim)
        }
        if (cache.dtype() != c.kvDtype && reduced) return CaseOutcome.Bad("newKvCache(${c.kvDtype} spec) made a ${cache.dtype()} cache")
        // Round-robin chunks: a prefill-sized chunk first, then small decode steps, sequences interleaved.
        val filled = IntArray(c.batch)
        var first = true
        while ((0 until c.batch).any { filled[it] < lens[it] }) {
            for (b in 0 until c.batch) {
                val left = lens[b] - filled[b]
                if (left == 0) continue
                val n = if (first) 1 + rnd.nextInt(left) else minOf(left, 1 + rnd.nextInt(3))
                cache.append(b, inputs.k().select(0, b).slice(1, filled[b], n), inputs.v().select(0, b).slice(1, filled[b], n))
                filled[b] += n
            }
            first = false
        }
        backend.plan(problem, options).use { plan ->
            val out = plan.decode(inputs.q(), cache)
            // A backend may compute no lse at all (the TCK notes it), but one that returns an lse from run() must
            // return one from decode() on the same plan: PlanOptions.computeLse asks it of every output.
            if (options.computeLse() && out.lse() == null && plan.run(inputs).lse() != null) {
                return CaseOutcome.Bad("decode() returned no lse although PlanOptions.computeLse = true and run() on the same plan returns one")
            }
            val decoded = judgeOutput(backend, c, inputs, out)
            if (!thenRun || decoded !is CaseOutcome.Ok) return decoded
            // The same plan then runs the same attention from dense K/V: a path of its own (a prefill, where a decode
            // over the cache was not), which must not trip over anything the decode left in the plan.
            val ran = judgeOutput(backend, c, inputs, plan.run(inputs))
            if (ran is CaseOutcome.Bad) return CaseOutcome.Bad("run() after decode() on the same plan: ${ran.message}")
            return if (ran is CaseOutcome.Ok) CaseOutcome.Ok(maxOf(decoded.ratio, ran.ratio), decoded.notes + ran.notes) else ran
        }
    }

    private fun judgeOutput(backend: AttentionBackend, c: KernelCase, inputs: AttentionInputs, out: AttentionOutput): CaseOutcome {
        try {
            Runs.checkOutput(backend, out, intArrayOf(c.batch, c.qHeads, c.qLen, c.vHeadDim))
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        return Runs.precisionOf(backend, out.out()).let { p -> Expected.of(c.spec, inputs, p).judge(out, p) }
    }

    /** A plan made for one problem runs inputs of other batch sizes and lengths (the planned sizes only guide tiling). */
    private fun planReuse(): TckCheck {
        val name = "kernel/plan-reuse"
        return TckCheck(name, "one plan runs its own case and a second case with another batch and other lengths") { backend, config ->
            PropertyRunner.run(name, contractArb(backend, name, KernelGenes.everything(0.25), config), config, config.iterations / 2, resample = true) { a ->
                val rnd = SplittableRandom(a.dataSeed + 1)
                var b = a.copy(batch = 1 + rnd.nextInt(4), qLen = LENGTHS[2 + rnd.nextInt(16)], kvLen = LENGTHS[2 + rnd.nextInt(16)],
                    dataSeed = a.dataSeed + 1)
                while (b.cost > config.maxCost && b.batch > 1) b = b.copy(batch = b.batch - 1)
                if (b.cost > config.maxCost) b = b.copy(qLen = 1)
                val pa = a.problem
                val sa = backend.support(pa)
                val sb = backend.support(b.problem)
                if (!sa.isSupported || !sb.isSupported) return@run CaseOutcome.Declined(sa.reasons() + sb.reasons())
                var worst = 0.0
                backend.plan(pa, Runs.OPTIONS).use { plan ->
                    // Its own case, the other one, then its own again (the second run must not have changed the plan).
                    for ((label, case) in listOf("its own case" to a, "a second case ($b)" to b, "its own case again" to a)) {
                        when (val r = runChecked(backend, plan, case)) {
                            is CaseOutcome.Ok -> worst = maxOf(worst, r.ratio)
                            is CaseOutcome.Bad -> return@run CaseOutcome.Bad("on $label: ${r.message}")
                            is CaseOutcome.Declined -> return@run r
                        }
                    }
                }
                CaseOutcome.Ok(worst)
            }
        }
    }

    /** Runs [case] through an existing [plan] and judges it. */
    private fun runChecked(backend: AttentionBackend, plan: AttentionPlan, case: KernelCase): CaseOutcome {
        val before = Snapshot(case.inputs)
        val out = plan.run(case.inputs)
        try {
            before.requireUnchanged(case.inputs)
            Runs.checkOutput(backend, out, intArrayOf(case.batch, case.qHeads, case.qLen, case.vHeadDim))
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        return Runs.precisionOf(backend, (out).out()).let { p -> Expected.of(case.spec, case.inputs, p).judge(out, p) }
    }

    /** Plans are thread-safe: four threads run one plan at once on different data, each must get its own right answer. */
    private fun sharedPlan(): TckCheck {
        val name = "kernel/plan-shared-by-threads"
        return TckCheck(name, "one plan run by 4 threads at once on different data; every result matches the reference") { backend, config ->
            PropertyRunner.run(name, contractArb(backend, name, KernelGenes.everything(0.25), config), config, maxOf(2, config.iterations / 4), resample = true) { a ->
                val support = backend.support(a.problem)
                if (!support.isSupported) return@run CaseOutcome.Declined(support.reasons())
                val cases = (0 until 4).map { a.withSeed(a.dataSeed + 1000L * it) }
                cases.forEach { it.inputs }                          // build inputs before the race
                val threads = Executors.newFixedThreadPool(4)
                var worst = 0.0
                try {
                    backend.plan(a.problem, Runs.OPTIONS).use { plan ->
                        val futures = cases.map { c -> threads.submit(Callable { plan.run(c.inputs) }) }
                        futures.forEachIndexed { i, f ->
                            when (val v = Runs.precisionOf(backend, (f.get()).out()).let { p -> Expected.of(cases[i].spec, cases[i].inputs, p).judge(f.get(), p) }) {
                                is CaseOutcome.Bad -> return@run CaseOutcome.Bad("thread $i (data ${cases[i].dataSeed}): ${v.message}")
                                is CaseOutcome.Ok -> worst = maxOf(worst, v.ratio)
                                is CaseOutcome.Declined -> return@run v
                            }
                        }
                    }
                } finally {
                    threads.shutdownNow()
                }
                CaseOutcome.Ok(worst)
            }
        }
    }

    /**
     * `PlanOptions.threads` is how many threads a plan may use: 1 (the caller alone) and more than a small machine has
     * cores must both give the reference's answer (the other checks plan with the default, the machine's cores).
     */
    private fun planThreads(): TckCheck {
        val name = "kernel/plan-threads"
        return TckCheck(name, "plans made with PlanOptions.threads = 1 and = 5 both give the reference's answer") { backend, config ->
            PropertyRunner.run(name, contractArb(backend, name, profile(maybe(0.5, KernelGene.CAUSAL)), config), config, maxOf(2, config.iterations / 4), resample = true) { c ->
                val support = backend.support(c.problem)
                if (!support.isSupported) return@run CaseOutcome.Declined(support.reasons())
                var worst = 0.0
                for (threads in intArrayOf(1, 5)) {
                    val ran = try {
                        backend.plan(c.problem, Runs.OPTIONS.withThreads(threads)).use { runChecked(backend, it, c) }
                    } catch (e: RuntimeException) {
                        CaseOutcome.Bad("threw $e")
                    }
                    when (val v = ran) {
                        is CaseOutcome.Ok -> worst = maxOf(worst, v.ratio)
                        is CaseOutcome.Bad -> return@run CaseOutcome.Bad("threads = $threads: ${v.message}")
                        is CaseOutcome.Declined -> return@run v
                    }
                }
                CaseOutcome.Ok(worst)
            }
        }
    }

    /** Bad inputs to a valid plan: each must be an AttentionException (never a wrong answer, NaN, AIOOBE or hang). */
    private fun rejectsBadInput(): TckCheck {
        val name = "kernel/rejects-bad-input"
        return TckCheck(name, "run() with wrong shapes, non-finite values, bad kv_lens, unbroadcastable masks throws AttentionException") { backend, config ->
            PropertyRunner.run(name, contractArb(backend, name, KernelGenes.everything(0.4), config), config, maxOf(2, config.iterations / 4), resample = true) { c ->
                val support = backend.support(c.problem)
                if (!support.isSupported) return@run CaseOutcome.Declined(support.reasons())
                backend.plan(c.problem, Runs.OPTIONS).use { plan ->
                    val nullInputs = Runs.notRefused { plan.run(null) }
                    if (nullInputs != null) return@run CaseOutcome.Bad("null inputs: expected an AttentionException, but it $nullInputs")
                    for ((what, inputs) in corruptions(c)) {
                        val problem = Runs.notRefused { plan.run(inputs) }
                        if (problem != null) return@run CaseOutcome.Bad("$what: expected an AttentionException, but it $problem")
                    }
                }
                CaseOutcome.Ok()
            }
        }
    }

    /**
     * A plan made with `PlanOptions.computeLse = false` (what a caller that needs no LSE asks for, and the path a
     * backend may take to skip that work): `run` and `decode` must still give the reference's `out`; `lse` may be
     * absent, and when present it is judged like any other.
     */
    private fun withoutLse(): TckCheck {
        val name = "kernel/without-lse"
        // decode takes no bias, mask, ALiBi or sinks: the options both calls accept
        val profile = profile(maybe(0.5, KernelGene.CAUSAL), maybe(0.3, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.SCALE))
        return TckCheck(name, "run() and decode() of a plan made with computeLse = false give the reference's out (lse null or right)") { backend, config ->
            PropertyRunner.run(name, contractArb(backend, name, profile, config), config, maxOf(2, config.iterations / 4), resample = true) { c ->
                val support = backend.support(c.problem)
                if (!support.isSupported) return@run CaseOutcome.Declined(support.reasons())
                val options = Runs.OPTIONS.withLse(false)
                val ran = backend.plan(c.problem, options).use { runChecked(backend, it, c) }
                if (ran !is CaseOutcome.Ok) return@run if (ran is CaseOutcome.Bad) CaseOutcome.Bad("run: ${ran.message}") else ran
                when (val decoded = decodeCase(backend, c, paged = false, options = options)) {
                    is CaseOutcome.Ok -> CaseOutcome.Ok(maxOf(ran.ratio, decoded.ratio))
                    is CaseOutcome.Bad -> CaseOutcome.Bad("decode: ${decoded.message}")
                    is CaseOutcome.Declined -> decoded
                }
            }
        }
    }

    /** Broken variants of a valid case's inputs, each with what is wrong. */
    internal fun corruptions(c: KernelCase): List<Pair<String, AttentionInputs>> {
        val ok = c.inputs
        val out = ArrayList<Pair<String, AttentionInputs>>()
        fun zeros(vararg shape: Int) = FloatTensor.zeros(*shape)
        out += "q with head_dim + 1" to AttentionInputs(zeros(c.batch, c.qHeads, c.qLen, c.headDim + 1), ok.k(), ok.v(), ok.bias(), ok.mask(), ok.alibiSlopes(), ok.sinks(), ok.kvLens())
        out += "k with kv_heads + 1" to AttentionInputs(ok.q(), zeros(c.batch, c.kvHeads + 1, c.kvLen, c.headDim), ok.v(), ok.bias(), ok.mask(), ok.alibiSlopes(), ok.sinks(), ok.kvLens())
        out += "v one key longer than k" to AttentionInputs(ok.q(), ok.k(), zeros(c.batch, c.kvHeads, c.kvLen + 1, c.vHeadDim), ok.bias(), ok.mask(), ok.alibiSlopes(), ok.sinks(), ok.kvLens())
        out += "q of rank 3" to AttentionInputs(zeros(c.batch, c.qLen, c.qHeads * c.headDim), ok.k(), ok.v(), null, null, null, null, null)
        out += "q as an int tensor" to AttentionInputs(IntTensor.of(IntArray(c.batch * c.qHeads * c.qLen * c.headDim), c.batch, c.qHeads, c.qLen, c.headDim),
            ok.k(), ok.v(), null, null, null, null, null)
        if (c.qLen > 0) out += "NaN in q" to ok.copyWith(q = poisoned(ok.q(), Double.NaN))
        if (c.kvLen > 0) out += "+inf in v" to ok.copyWith(v = poisoned(ok.v(), Double.POSITIVE_INFINITY))
        out += "kv_lens[0] = kv_len + 1" to ok.withKvLens(IntTensor.of(IntArray(c.batch) { if (it == 0) c.kvLen + 1 else c.kvLen }, c.batch))
        out += "kv_lens[0] = -1" to ok.withKvLens(IntTensor.of(IntArray(c.batch) { if (it == 0) -1 else 0 }, c.batch))
        out += "mask of shape [Lk + 2]" to ok.withMask(BoolTensor.of(BooleanArray(c.kvLen + 2) { true }, c.kvLen + 2))
        out += "sinks of shape [Hq + 1]" to ok.withSinks(zeros(c.qHeads + 1))
        out += "alibi slopes with -inf" to ok.withAlibiSlopes(FloatTensor.of(FloatArray(c.qHeads) { if (it == 0) Float.NEGATIVE_INFINITY else 0.5f }, c.qHeads))
        if (c.qLen > 0 && c.kvLen > 0) out += "NaN in bias" to ok.withBias(FloatTensor.of(floatArrayOf(Float.NaN), 1))
        return out
    }

    private fun AttentionInputs.copyWith(q: Tensor = q(), v: Tensor = v()) =
        AttentionInputs(q, k(), v, bias(), mask(), alibiSlopes(), sinks(), kvLens())

    /** A float copy of [t] with its first element replaced by [value]. */
    private fun poisoned(t: Tensor, value: Double): Tensor {
        val d = DoubleTensor.copyOf(t)
        d.data()[0] = value
        return d
    }
}
