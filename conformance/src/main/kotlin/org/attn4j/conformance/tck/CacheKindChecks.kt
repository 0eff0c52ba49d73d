package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.IntTensor
import org.attn4j.api.KvCache
import org.attn4j.api.PagedKvCache
import org.attn4j.conformance.tck.KernelGenes.maybe
import java.util.SplittableRandom

/**
 * Decoding over every kind of cache a caller may hand a backend, not only the one its `newKvCache` makes: the api's
 * contiguous and paged caches in float32 and float64 (a backend may read them in place or copy them), small pages
 * with many pages per sequence. (Keys-only MLA caches are not part of `AttentionPlan.decode`'s contract; the MLA
 * layer checks decode over them.)
 */
object CacheKindChecks {
    /** The caches this check fills; one is drawn per case. */
    enum class Kind(val label: String) {
        CONTIGUOUS_F32("ContiguousKvCache float32"),
        CONTIGUOUS_F64("ContiguousKvCache float64"),
        PAGED_F32("PagedKvCache float32, pages of 1..5 tokens"),
        PAGED_F64("PagedKvCache float64, pages of 1..5 tokens"),
    }

    val ALL: List<TckCheck> by lazy { listOf(check()) }

    private fun check(): TckCheck {
        val name = "kernel/decode-cache-kinds"
        // No sinks, bias, mask or ALiBi: decode(q, cache) takes no such tensors.
        val profile = maybe(0.5, KernelGene.CAUSAL) + maybe(0.3, KernelGene.WINDOW, KernelGene.SOFTCAP, KernelGene.SCALE)
        return TckCheck(name, "AttentionPlan.decode over caches the backend did not make: ${Kind.entries.joinToString(", ") { it.label }}") { backend, config ->
            PropertyRunner.run(name, KernelGenes.arb(profile, config.maxCost), config, config.iterations) { c ->
                decodeCase(backend, c, Kind.entries[Math.floorMod(c.dataSeed, Kind.entries.size.toLong()).toInt()])
            }
        }
    }

    internal fun decodeCase(backend: AttentionBackend, original: KernelCase, kind: Kind): CaseOutcome {
        val c = original
        val rnd = SplittableRandom(c.dataSeed xor 0x5DEECE66DL)
        val lens = IntArray(c.batch) { rnd.nextInt(c.kvLen + 1) }
        lens[rnd.nextInt(c.batch)] = c.kvLen
        val k = c.inputs.k()
        val inputs = c.inputs.withKvLens(IntTensor.of(lens, c.batch))
        val problem = inputs.validate(c.spec)
        val support = backend.support(problem)
        if (!support.isSupported) return CaseOutcome.Declined(support.reasons())
        val dv = c.vHeadDim
        val pageSize = 1 + rnd.nextInt(5)
        val pages = lens.sumOf { (it + pageSize - 1) / pageSize } + 2
        val cache: KvCache = when (kind) {
            Kind.CONTIGUOUS_F32 -> ContiguousKvCache(DType.FLOAT32, c.batch, c.kvHeads, c.kvLen, c.headDim, dv)
            Kind.CONTIGUOUS_F64 -> ContiguousKvCache(DType.FLOAT64, c.batch, c.kvHeads, c.kvLen, c.headDim, dv)
            Kind.PAGED_F32 -> PagedKvCache(DType.FLOAT32, c.batch, c.kvHeads, c.headDim, dv, pageSize, pages, c.kvLen)
            Kind.PAGED_F64 -> PagedKvCache(DType.FLOAT64, c.batch, c.kvHeads, c.headDim, dv, pageSize, pages, c.kvLen)
        }
        // Sequences filled in interleaved chunks, so that a paged cache's pages alternate between sequences.
        val filled = IntArray(c.batch)
        while ((0 until c.batch).any { filled[it] < lens[it] }) {
            for (b in 0 until c.batch) {
                val n = minOf(lens[b] - filled[b], 1 + rnd.nextInt(4))
                if (n == 0) continue
                val kb = k.select(0, b).slice(1, filled[b], n)
                cache.append(b, kb, c.inputs.v().select(0, b).slice(1, filled[b], n))
                filled[b] += n
            }
        }
        val out = backend.plan(problem, Runs.OPTIONS).use { it.decode(inputs.q(), cache) }
        try {
            Runs.checkOutput(backend, out, intArrayOf(c.batch, c.qHeads, c.qLen, c.vHeadDim))
        } catch (e: ContractViolation) {
            return CaseOutcome.Bad("${kind.label}: ${e.message}")
        }
        return when (val r = Runs.precisionOf(backend, out.out()).let { p -> Expected.of(c.spec, inputs, p).judge(out, p) }) {
            is CaseOutcome.Bad -> CaseOutcome.Bad("${kind.label}: ${r.message}")
            else -> r
        }
    }
}
