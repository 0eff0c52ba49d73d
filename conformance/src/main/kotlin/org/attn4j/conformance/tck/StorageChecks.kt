package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.Precision

/**
 * Reduced storage (float16, bfloat16, int8 Q/K/V and KV caches): the kernel checks. A reduced tensor holds exact
 * values (float16/bfloat16 widen exactly, an int8 element is `q * scale`), so the float64 reference of those stored
 * values is the oracle, with the float32 accuracy rule: storage changes how many bytes are read, never the rule.
 * The layer checks with a reduced cache, whose oracle differs by the rounding, are in [LayerChecks].
 *
 * A backend whose `supportStorage` declines a type has those cases declined with its reason.
 */
object StorageChecks {
    val ALL: List<TckCheck> by lazy { listOf(reducedEqualsFloat32(), decode(paged = false), decode(paged = true)) }

    /** K/V in a reduced type (never float32), Q in float32/float16/bfloat16; layouts a reduced tensor can have. */
    private val REDUCED: Map<KernelGene, Domain> = mapOf(
        KernelGene.KV_DTYPE to Domain.Values(intArrayOf(1, 2, 3)),
        KernelGene.Q_DTYPE to GenePool.indices(KernelGenes.Q_STORAGE.size),
        KernelGene.LAYOUT to GenePool.only(Layout.CONTIGUOUS.ordinal, Layout.BLHD_VIEW.ordinal, Layout.MISALIGNED.ordinal),
    )

    /** The backend's reasons for declining any of [dtypes] as storage, or null when it reads them all. */
    internal fun declined(backend: AttentionBackend, vararg dtypes: DType): CaseOutcome.Declined? {
        val reasons = dtypes.distinct().flatMap { backend.supportStorage(it).let { s -> if (s.isSupported) emptyList() else s.reasons() } }
        return if (reasons.isEmpty()) null else CaseOutcome.Declined(reasons)
    }

    /**
     * Inputs stored as float16/bfloat16/int8 give what float32 inputs holding the same values give: each run is judged
     * against the float64 reference of the stored values, and the two runs must agree within the sum of their
     * allowances (at float32's rule when K/V are int8, whose float32 twin rounds `q * scale` once).
     */
    private fun reducedEqualsFloat32(): TckCheck {
        val name = "meta/reduced-storage-equals-float32"
        return TckCheck(name, "Q/K/V stored as float16, bfloat16 or int8 equal float32 inputs holding the same values (both against the float64 reference)") { backend, config ->
            PropertyRunner.run(name, KernelChecks.contractArb(backend, name, KernelGenes.everything(0.3) + REDUCED, config), config,
                maxOf(2, config.iterations / 2), resample = true) { c -> reducedCase(backend, c) }
        }
    }

    internal fun reducedCase(backend: AttentionBackend, c: KernelCase): CaseOutcome {
        declined(backend, c.kvDtype, c.qDtype)?.let { return it }
        val (reduced, twin) = try {
            Runs.kernel(backend, c.spec, c.inputs) to Runs.kernel(backend, c.spec, c.float32Inputs)
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad(e.message!!)
        }
        if (reduced is Runs.Ran.Declined) return CaseOutcome.Declined(reduced.reasons)
        if (twin is Runs.Ran.Declined) return CaseOutcome.Declined(twin.reasons)
        val a = (reduced as Runs.Ran.Done).output
        val b = (twin as Runs.Ran.Done).output
        val p = Runs.precisionOf(backend, a.out())
        val stored = Expected.of(c.spec, c.inputs, p)
        val verdict = stored.judge(a, p)
        if (verdict is CaseOutcome.Bad) return CaseOutcome.Bad("stored as ${c.kvDtype} k/v, ${c.qDtype} q, against the reference of the stored values: ${verdict.message}")
        // int8's float32 twin is q * scale rounded: float32's rule then, whatever the backend's precision.
        val pa = if (c.kvDtype == DType.INT8 && p == Precision.FLOAT64) Precision.FLOAT32 else p
        val ea = Expected.of(c.spec, c.inputs, pa)
        val eb = Expected.of(c.spec, c.float32Inputs, pa)
        val (ro, po) = Agree.check("out", a.out(), b.out(), ea.allowance("out", pa) + eb.allowance("out", pa))
        if (po != null) return CaseOutcome.Bad("${c.kvDtype} k/v, ${c.qDtype} q vs float32 inputs of the same values: $po")
        val la = a.lse()
        val lb = b.lse()
        if (la == null || lb == null) return CaseOutcome.Ok(maxOf(ro, (verdict as CaseOutcome.Ok).ratio), listOf(Runs.NO_LSE))
        val (rl, pl) = Agree.check("lse", la, lb, ea.allowance("lse", pa) + eb.allowance("lse", pa))
        if (pl != null) return CaseOutcome.Bad("${c.kvDtype} k/v, ${c.qDtype} q vs float32 inputs of the same values: $pl")
        return CaseOutcome.Ok(maxOf(ro, rl, (verdict as CaseOutcome.Ok).ratio))
    }

    /** Decoding over a cache of the case's reduced type, filled with the stored K/V (copied exactly), equals the reference. */
    private fun decode(paged: Boolean): TckCheck {
        val name = if (paged) "kernel/decode-reduced-paged-cache" else "kernel/decode-reduced-contiguous-cache"
        val what = if (paged) "a PagedKvCache" else "the backend's newKvCache(KvCacheSpec)"
        val profile = KernelGenes.maybe(0.5, KernelGene.CAUSAL) + KernelGenes.maybe(0.3, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.SCALE) +
            REDUCED + mapOf(KernelGene.LAYOUT to GenePool.only(0))
        return TckCheck(name, "AttentionPlan.decode over $what stored as float16, bfloat16 or int8 equals the reference of the stored values") { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, maxOf(2, config.iterations / 2)) {
                declined(backend, it.kvDtype, it.qDtype) ?: KernelChecks.decodeCase(backend, it, paged)
            }
        }
    }
}
