package org.attn4j.conformance.tck

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionBackend
import org.attn4j.api.AttentionPlan
import org.attn4j.api.AttentionProblem
import org.attn4j.api.LayerConfig
import org.attn4j.api.LayerPlan
import org.attn4j.api.LayerWeights
import org.attn4j.api.PlanOptions
import org.attn4j.reference.ReferenceBackend
import java.util.concurrent.CountDownLatch

/** `kernel/plan-threads` and `meta/close-releases-threads` pass on the reference and catch what they are for. */
class PlanThreadsChecksTest : FunSpec({
    val config = TckConfig.builder().iterations(16).checks("kernel/plan-threads", "meta/close-releases-threads").reportFile(null).build()

    test("the reference passes both, running their cases") {
        val report = AttentionTck.run(ReferenceBackend(), config, record = false)
        report.failures.shouldBeEmpty()
        report.results.map { it.check }.toSet() shouldBe setOf("kernel/plan-threads", "meta/close-releases-threads")
        report.results.all { it is CheckResult.Passed && it.cases > 0 } shouldBe true
    }

    test("a backend whose plans each start a helper thread that close() never stops fails close-releases-threads") {
        val leaky = Helpers(stopOnClose = false)
        val report = try {
            AttentionTck.run(leaky, config, record = false)
        } finally {
            leaky.stopAll() // leave no thread behind for the specs that follow
        }
        report.failures.map { it.check } shouldBe listOf("meta/close-releases-threads")
        report.failures.first().message shouldContain "'leaky-helper'"
    }

    test("the same backend with close() stopping its helper passes: the check waits for a thread that is ending") {
        AttentionTck.run(Helpers(stopOnClose = true), config, record = false).failures.shouldBeEmpty()
    }

    test("a backend that cannot plan with one thread fails plan-threads") {
        val report = AttentionTck.run(NoSingleThread(), config, record = false)
        report.failures.map { it.check } shouldBe listOf("kernel/plan-threads")
        report.failures.first().message shouldContain "threads = 1"
    }
})

/** The reference, but every plan starts a helper thread, stopped by close() only if [stopOnClose]. */
private class Helpers(private val stopOnClose: Boolean, private val ref: ReferenceBackend = ReferenceBackend()) : AttentionBackend by ref {
    override fun name(): String = if (stopOnClose) "helper-stopped" else "helper-leaked"

    private val started = java.util.concurrent.ConcurrentLinkedQueue<CountDownLatch>()

    fun stopAll() = started.forEach { it.countDown() }

    private fun helper(): CountDownLatch {
        val stop = CountDownLatch(1)
        started += stop
        Thread({ stop.await(); Thread.sleep(50) }, "leaky-helper").apply { isDaemon = true }.start()
        return stop
    }

    override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
        val inner = ref.plan(problem, options)
        val stop = helper()
        return object : AttentionPlan by inner {
            override fun close() {
                if (stopOnClose) stop.countDown()
                inner.close()
            }
        }
    }

    override fun planLayer(config: LayerConfig, weights: LayerWeights, options: PlanOptions): LayerPlan {
        val inner = ref.planLayer(config, weights, options)
        val stop = helper()
        return object : LayerPlan by inner {
            override fun close() {
                if (stopOnClose) stop.countDown()
                inner.close()
            }
        }
    }
}

/** The reference, but a plan with `PlanOptions.threads = 1` fails (as a pool of `threads - 1` workers of zero would). */
private class NoSingleThread(private val ref: ReferenceBackend = ReferenceBackend()) : AttentionBackend by ref {
    override fun name(): String = "no-single-thread"

    override fun plan(problem: AttentionProblem, options: PlanOptions): AttentionPlan {
        require(options.threads() > 1) { "a pool of ${options.threads() - 1} workers" }
        return ref.plan(problem, options)
    }
}
