package org.attn4j.conformance.tck

import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.DType
import org.attn4j.api.KvCacheSpec

/**
 * `backend/entry-points`: what `AttentionBackend` promises before any attention is computed. A short non-blank name;
 * `supportStorage` answers every [DType] (float32 and float64 supported, a decline with its reason) and `null` is an
 * [AttentionException]; `newKvCache(null)` is an [AttentionException], not a NullPointerException; a cache made for
 * a supported storage type holds that type; `plan(p).problem()` is `p`. Fixed probes, no random cases; mandatory (nothing to decline).
 */
object EntryPointChecks {
    const val NAME = "backend/entry-points"
    val ALL: List<TckCheck> by lazy { listOf(check()) }

    /** One probe: a name and what it found wrong, or null. */
    internal class Probe(val name: String, val wrong: (AttentionBackend) -> String?)

    private fun rejects(what: String, call: () -> Any?): String? = try {
        val r = call()
        "$what returned $r instead of throwing an AttentionException"
    } catch (e: AttentionException) {
        null
    }

    internal fun probes(): List<Probe> = listOf(
        Probe("name()") { b -> b.name().let { if (it.isNullOrBlank()) "name() is '${it}': a backend needs a short non-blank name" else null } },
        Probe("supportStorage(null)") { b -> rejects("supportStorage(null)") { b.supportStorage(null) } },
        Probe("newKvCache(null)") { b -> rejects("newKvCache(null as KvCacheSpec)") { b.newKvCache(null as KvCacheSpec?) } },
        Probe("plan(p).problem() is p") { b ->
            val p = AttentionProblem.of(AttentionSpec.builder(2, 1, 4).causal().build(), 1, 2, 3)
            if (!b.support(p).isSupported) null
            else b.plan(p, Runs.OPTIONS).use { plan -> if (plan.problem() != p) "plan(p).problem() is ${plan.problem()}, not p = $p" else null }
        },
    ) + DType.entries.map { t ->
        Probe("supportStorage($t)") { b ->
            val s = b.supportStorage(t)
            when {
                s == null -> "supportStorage($t) returned null"
                !s.isSupported && s.reasons().isEmpty() -> "supportStorage($t) declines without a reason"
                (t == DType.FLOAT32 || t == DType.FLOAT64) && !s.isSupported ->
                    "supportStorage($t) declines ${s.reasons()}: every backend reads float32 and float64"
                !t.isReal() && s.isSupported -> "supportStorage($t) accepts a type that is no attention input"
                s.isSupported -> b.newKvCache(KvCacheSpec(t, 2, 1, 3, 4, 4)).let {
                    if (it.dtype() != t) "newKvCache($t spec) made a ${it.dtype()} cache" else null
                }
                else -> null
            }
        }
    }

    fun check(): TckCheck = TckCheck(NAME, "name(), supportStorage(every dtype and null), newKvCache(null): answers or " +
        "AttentionExceptions as AttentionBackend documents them, never null or a NullPointerException", mandatory = true) { backend, config ->
        var run = 0
        for (probe in probes()) {
            run++
            val o = PropertyRunner.guarded(config.caseTimeout) { probe.wrong(backend)?.let { CaseOutcome.Bad(it) } ?: CaseOutcome.Ok() }
            if (o is CaseOutcome.Bad) return@TckCheck CheckResult.Failed(NAME, config.seed, config.seedFor(NAME), probe.name,
                probe.name, 0, o.message, run)
        }
        CheckResult.Passed(NAME, run, emptyMap(), 0.0, emptySet())
    }
}
