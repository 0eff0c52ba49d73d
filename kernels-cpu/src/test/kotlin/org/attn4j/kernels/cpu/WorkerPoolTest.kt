package org.attn4j.kernels.cpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * The plan's threads, in what no conformance check can see: helpers are daemon threads (an unclosed plan must not keep
 * the JVM alive), each takes part in a call, and close() ends them.
 */
class WorkerPoolTest : StringSpec({
    "a pool of 3 runs every item once, on daemon helper threads that end when it is closed" {
        val pool = WorkerPool(3)
        val ranOn = ConcurrentHashMap<Int, Thread>()
        // every item waits until three threads hold one: so the caller and both helpers take part
        val all = CountDownLatch(3)
        pool.forEach(3, { Any() }) { item, _ ->
            ranOn[item] = Thread.currentThread()
            all.countDown()
            all.await(10, TimeUnit.SECONDS) shouldBe true
        }
        ranOn.keys shouldBe setOf(0, 1, 2)
        val helpers = ranOn.values.filter { it !== Thread.currentThread() }.toSet()
        helpers.size shouldBe 2
        helpers.all { it.isDaemon && it.name.startsWith("attn4j-cpu-") } shouldBe true
        pool.close()
        helpers.forEach { it.join(10_000) }
        helpers.none { it.isAlive } shouldBe true
        shouldThrow<AttentionException> { pool.forEach(1, { Any() }) { _, _ -> } }
    }

    "a pool of 1 runs every item on the caller and starts no thread" {
        val pool = WorkerPool(1)
        val threads = ConcurrentHashMap.newKeySet<Thread>()
        pool.forEach(5, { Any() }) { _, _ -> threads += Thread.currentThread() }
        threads shouldBe setOf(Thread.currentThread())
        pool.close()
    }

    "a failed item's exception reaches the caller and every scratch taken is released" {
        val pool = WorkerPool(2)
        val taken = ConcurrentHashMap.newKeySet<Any>()
        val released = ConcurrentHashMap.newKeySet<Any>()
        val e = shouldThrow<IllegalStateException> {
            pool.forEach(64, { Any().also { taken += it } }, { released += it }) { item, _ -> check(item != 7) { "item 7" } }
        }
        e.message shouldBe "item 7"
        released shouldBe taken
        pool.close()
    }
})
