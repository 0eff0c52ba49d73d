package org.attn4j.bench

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionException

/** A fake clock and an action that "takes" the time [durationMs] gives for its n-th call (from 0), advancing the clock. */
private class FakeKernel(val durationMs: (Int) -> Double) {
    var nanos = 0L
    var calls = 0
    val clock = Timing.Clock { nanos }
    val action = Timing.Action { nanos += Math.round(durationMs(calls++) * 1e6) }
}

/** [Timing.steady]'s settling and stopping rules on a fake clock: every figure below is worked out by hand. */
class TimingTest : StringSpec({

    "the warm-up goes on until two successive batch medians agree, then the steady calls are timed" {
        // 100, 90, 80, ... ms, then 10 ms from call 9 on: batch medians (3 calls each) 90, 60, 30, 10, 10
        val k = FakeKernel { i -> maxOf(10.0, 100.0 - 10 * i) }
        val r = Timing.steady(Timing.Steady(3, 0.0, 0.05, 100.0, 5, 0.0, 100.0), k.action, k.clock)
        r.settled() shouldBe true
        r.warmupCalls() shouldBe 15
        r.warmupSeconds() shouldBe (0.600 plusOrMinus 1e-9) // 100 + 90 + ... + 20 = 540 ms, then six calls of 10 ms
        r.timing().reps() shouldBe 5
        r.timing().median() shouldBe (0.010 plusOrMinus 1e-9)
        r.timing().min() shouldBe (0.010 plusOrMinus 1e-9)
        r.timing().max() shouldBe (0.010 plusOrMinus 1e-9)
        k.calls shouldBe 20
    }

    "only calls after the warm-up are timed" {
        // batches of two: (50, 50) and (50, 50) agree, so the warm-up ends after 4 calls; the timed calls are the 5 ms ones
        val k = FakeKernel { i -> if (i < 4) 50.0 else 5.0 }
        val r = Timing.steady(Timing.Steady(2, 0.0, 0.05, 100.0, 4, 0.0, 100.0), k.action, k.clock)
        r.warmupCalls() shouldBe 4
        r.timing().median() shouldBe (0.005 plusOrMinus 1e-9)
    }

    "a warm-up batch lasts at least batchSeconds, so short calls are judged over many of them" {
        // 10 ms per call, batches of >= 2 calls and >= 0.1 s: 10 calls per batch, settled after the second batch
        val k = FakeKernel { 10.0 }
        val r = Timing.steady(Timing.Steady(2, 0.1, 0.05, 100.0, 3, 0.0, 100.0), k.action, k.clock)
        r.settled() shouldBe true
        r.warmupCalls() shouldBe 20
        r.timing().reps() shouldBe 3
    }

    "times that never settle stop at the warm-up budget and say so" {
        // 10 ms for three calls, 30 ms for three calls, and so on: batch medians alternate 10 and 30
        val k = FakeKernel { i -> if ((i / 3) % 2 == 0) 10.0 else 30.0 }
        val r = Timing.steady(Timing.Steady(3, 0.0, 0.05, 0.5, 4, 0.0, 100.0), k.action, k.clock)
        r.settled() shouldBe false
        // six calls take 120 ms: after 24 calls 0.48 s, the 25th (10 ms) ends the warm-up at 0.49 s, the 26th at 0.50 s
        r.warmupCalls() shouldBe 26
        r.warmupSeconds() shouldBe (0.5 plusOrMinus 1e-9)
    }

    "the timed phase runs for minCalls and minSeconds, whichever takes longer" {
        val k = FakeKernel { 1.0 }
        val r = Timing.steady(Timing.Steady(1, 0.0, 0.05, 100.0, 3, 0.0495, 100.0), k.action, k.clock)
        r.warmupCalls() shouldBe 2
        r.timing().reps() shouldBe 50 // 0.0495 s of 1 ms calls; 3 would have been enough by count
    }

    "the timed phase stops at its budget even short of minCalls" {
        val k = FakeKernel { 40.0 }
        val r = Timing.steady(Timing.Steady(1, 0.0, 0.05, 100.0, 1000, 0.0, 0.2), k.action, k.clock)
        r.timing().reps() shouldBe 5 // 40 ms calls: the budget of 0.2 s is reached after the 5th
    }

    "an action slower than both budgets is called once to warm up and once to time" {
        val k = FakeKernel { 5000.0 }
        val r = Timing.steady(Timing.Steady.defaults(), k.action, k.clock)
        r.warmupCalls() shouldBe 1
        r.settled() shouldBe false
        r.timing().reps() shouldBe 1
        r.timing().median() shouldBe (5.0 plusOrMinus 1e-9)
        k.calls shouldBe 2
    }

    "within() caps both budgets by a total" {
        val s = Timing.Steady.defaults().within(1.0)
        (s.warmupBudgetSeconds() + s.budgetSeconds() <= 1.0) shouldBe true
        s.minCalls() shouldBe Timing.Steady.defaults().minCalls()
    }

    "bad settings name the argument" {
        shouldThrow<AttentionException> { Timing.Steady(0, 0.0, 0.05, 1.0, 1, 0.0, 1.0) }.message shouldContain "batchCalls"
        shouldThrow<AttentionException> { Timing.Steady(1, 0.0, 0.05, Double.NaN, 1, 0.0, 1.0) }.message shouldContain "warmupBudgetSeconds"
        shouldThrow<AttentionException> { Timing.Steady.defaults().within(-1.0) }.message shouldContain "seconds"
    }
})
