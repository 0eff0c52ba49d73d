package org.attn4j.conformance.tck

import io.kotest.property.RandomSource
import org.attn4j.api.AttentionBackend
import java.util.concurrent.ForkJoinPool
import java.util.concurrent.ForkJoinWorkerThread

/**
 * What a plan holds is released by `close()` (AttentionPlan and LayerPlan: "Releases what the plan holds (threads,
 * device memory)"). Threads are what the TCK can see from outside a backend: every Java thread a plan started must
 * have ended soon after its `close()`. A backend that shares one pool across plans passes (the warm-up starts it before
 * the count); one that leaks a pool per plan runs out of threads in a long-lived server.
 */
object ResourceChecks {
    val ALL: List<TckCheck> by lazy { listOf(closeReleasesThreads()) }

    /** How long a closed plan's threads may take to finish what they were doing and end. */
    private const val GRACE_MS = 10_000L

    private fun closeReleasesThreads(): TckCheck {
        val name = "meta/close-releases-threads"
        return TckCheck(name, "after close(), no thread an attention, MHA/GQA layer or MLA layer plan (4 threads, run once) started is still alive") { backend, config ->
            PropertyRunner.run(name, KernelChecks.contractArb(backend, name, emptyMap(), config), config,
                maxOf(2, config.iterations / 8), resample = true) { c ->
                val support = backend.support(c.problem)
                if (!support.isSupported) return@run CaseOutcome.Declined(support.reasons())
                val options = Runs.OPTIONS.withThreads(4)
                val rs = RandomSource.seeded(c.dataSeed)
                val standard = StandardLayerCase.arb(emptyMap()).sample(rs).value
                val mla = MlaLayerCase.arb(emptyMap()).sample(rs).value
                val lifecycles = listOf<Pair<String, () -> Unit>>(
                    "an attention plan (run once)" to { backend.plan(c.problem, options).use { it.run(c.inputs) } },
                    "an MHA/GQA layer plan (forward once)" to {
                        if (backend.supportLayer(standard.config).isSupported) backend.planLayer(standard.config, standard.weights, options)
                            .use { it.forward(standard.activations.x, standard.activations.kvX, standard.activations.keyPaddingMask) }
                    },
                    "an MLA layer plan (${mla.path} path, forward once)" to {
                        if (backend.supportLayer(mla.config).isSupported) backend.planLayer(mla.config, mla.weights, options.withMlaPath(mla.path))
                            .use { it.forward(mla.activations.x, mla.activations.kvX, mla.activations.keyPaddingMask) }
                    },
                )
                for ((what, lifecycle) in lifecycles) {
                    lifecycle() // warm-up: whatever a backend starts once and shares is running before the count
                    val before = liveThreads()
                    lifecycle()
                    val deadline = System.nanoTime() + GRACE_MS * 1_000_000
                    val left = (liveThreads() - before).filter { !endsBy(it, deadline) }
                    if (left.isNotEmpty()) return@run CaseOutcome.Bad("$what started ${left.size} thread(s) still alive ${GRACE_MS / 1000} s " +
                        "after its close(): ${left.take(4).joinToString { "'${it.name}'" }}")
                }
                CaseOutcome.Ok()
            }
        }
    }

    /**
     * Live platform threads, without those the JVM itself may start at any moment: the common fork-join pool's
     * workers, the system thread group's (attach listener), the JDK's innocuous threads (cleaners) and the carriers
     * of virtual threads.
     */
    private fun liveThreads(): Set<Thread> = Thread.getAllStackTraces().keys.filterTo(HashSet()) { t ->
        t.isAlive && !(t is ForkJoinWorkerThread && t.pool === ForkJoinPool.commonPool()) && t.threadGroup?.parent != null &&
            t.javaClass.name !in JDK_THREADS
    }

    private val JDK_THREADS = setOf("jdk.internal.misc.InnocuousThread", "jdk.internal.misc.CarrierThread")

    /** Waits for [t] to end until [deadline] (System.nanoTime) at most. */
    private fun endsBy(t: Thread, deadline: Long): Boolean {
        val left = (deadline - System.nanoTime()) / 1_000_000
        if (left > 0) t.join(left)
        return !t.isAlive
    }
}
