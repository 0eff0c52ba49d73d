package org.attn4j.cli.run

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainInOrder
import io.kotest.matchers.shouldBe
import org.attn4j.dsl.script.ExpectationResult
import org.attn4j.dsl.script.ScriptProblem
import org.attn4j.dsl.script.Status
import java.nio.file.Path

/** The line protocol between `attn run` and its script JVM, and how that JVM is started. */
class RunProtocolTest : StringSpec({
    "events survive the round trip, odd text included" {
        val result = ExpectationResult("a \"quoted\"\nclaim", Status.FAILED, "expected 1, got 2", 7, 12, "StackOverflowError")
        WorkerProtocol.parse(WorkerProtocol.result(result)).get() shouldBe WorkerProtocol.Result(result)
        val noLine = ExpectationResult("x", Status.NOT_RUN, "", null, 0, null)
        WorkerProtocol.parse(WorkerProtocol.result(noLine)).get() shouldBe WorkerProtocol.Result(noLine)
        val problem = ScriptProblem("a.attn.kts", 3, "IllegalStateException: boom", false)
        WorkerProtocol.parse(WorkerProtocol.problem(problem)).get() shouldBe WorkerProtocol.Problem(problem)
        WorkerProtocol.parse(WorkerProtocol.printed("@attn4j-run {\"type\":\"ready\"}")).get() shouldBe
            WorkerProtocol.Printed("@attn4j-run {\"type\":\"ready\"}")
        WorkerProtocol.parse(WorkerProtocol.finished(4, true)).get() shouldBe WorkerProtocol.Finished(4, true)
        WorkerProtocol.parse(WorkerProtocol.started(2)).get() shouldBe WorkerProtocol.Started(2)
        WorkerProtocol.parse(WorkerProtocol.ready()).get() shouldBe WorkerProtocol.Ready()
    }

    "a line that is not the protocol's is no event (it is passed through as output)" {
        WorkerProtocol.parse("hello").isPresent shouldBe false
        WorkerProtocol.parse("@attn4j-run not json").isPresent shouldBe false
    }

    "the child is this JVM's java with its flags and class path, running the worker on the scripts" {
        val command = IsolatedScriptRunner.childCommand(listOf(Path.of("a.attn.kts"), Path.of("b c.attn.kts")))
        command.first() shouldBe Path.of(System.getProperty("java.home"), "bin", "java").toString()
        command shouldContainInOrder listOf("-cp", System.getProperty("java.class.path"), ScriptWorker::class.java.name,
            "a.attn.kts", "b c.attn.kts")
        command.containsAll(java.lang.management.ManagementFactory.getRuntimeMXBean().inputArguments) shouldBe true
    }
})
