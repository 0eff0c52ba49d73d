package org.attn4j.cli

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.ObjectMapper
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import java.io.PrintWriter
import java.io.StringWriter

/** `attn bench` on tiny shapes (hidden --tiny): the JSON shape, stdout/stderr separation and option errors. */
class BenchCommandTest : StringSpec({

    data class Run(val status: Int, val out: String, val err: String)

    fun bench(vararg args: String): Run {
        val out = StringWriter()
        val err = StringWriter()
        val cl = Attn.commandLine()
        cl.setOut(PrintWriter(out))
        cl.setErr(PrintWriter(err))
        val status = cl.execute("bench", *args)
        return Run(status, out.toString(), err.toString())
    }

    val run = bench("--tiny", "--json", "--workload", "all", "--backend", "cpu", "--peer", "ort", "--warmup", "0", "--reps", "1")
    val rows: List<JsonNode> by lazy { ObjectMapper().readTree(run.out).toList() }

    "--json prints only a JSON array on stdout; progress goes to stderr" {
        run.status shouldBe 0
        ObjectMapper().readTree(run.out).isArray shouldBe true
        run.err shouldContain "[bench]"
    }

    "each object has workload, backend, value, unit, percent_of_limit and ratio_to_peer" {
        for (o in rows) {
            for (key in listOf("workload", "backend", "value", "unit", "percent_of_limit", "ratio_to_peer")) {
                o.has(key) shouldBe true
            }
        }
        rows.map { it["workload"].asText() to it["backend"].asText() } shouldContainAll
            listOf("P1", "P2", "D1", "D2", "M1").flatMap { listOf(it to "cpu", it to "ort") } +
            listOf("D1 MHA/GQA" to "cpu", "M1 naive/absorbed" to "cpu", "fma_peak" to "machine", "dram_read" to "machine")
    }

    "cpu rows are measured against the limit and the peer; peer rows have no ratio" {
        for (name in listOf("P1", "P2", "D1", "D2", "M1")) {
            val cpu = rows.single { it["workload"].asText() == name && it["backend"].asText() == "cpu" }
            cpu["value"].asDouble() shouldBeGreaterThan 0.0
            cpu["unit"].asText() shouldBe (if (name.startsWith("P")) "GFLOP/s" else "GB/s")
            cpu["percent_of_limit"].asDouble() shouldBeGreaterThan 0.0
            cpu["ratio_to_peer"].asDouble() shouldBeGreaterThan 0.0
            val ort = rows.single { it["workload"].asText() == name && it["backend"].asText() == "ort" }
            ort["ratio_to_peer"].isNull shouldBe true
        }
        val mla = rows.single { it["workload"].asText() == "M1 naive/absorbed" }
        mla["unit"].asText() shouldBe "x"
        mla["value"].asDouble() shouldBeGreaterThan 0.0
    }

    "--peer none leaves ratio_to_peer null with a reason" {
        val r = bench("--tiny", "--json", "--workload", "P2", "--peer", "none", "--warmup", "0", "--reps", "1")
        r.status shouldBe 0
        val p2 = ObjectMapper().readTree(r.out).single { it["workload"].asText() == "P2" }
        p2["ratio_to_peer"].isNull shouldBe true
        p2["note"].asText() shouldContain "--peer none"
    }

    "the table names the columns; bad options are one-line errors with exit status 2" {
        val t = bench("--tiny", "--workload", "p2", "--peer", "none", "--warmup", "0", "--reps", "1")
        t.status shouldBe 0
        t.out shouldContain "workload"
        t.out shouldContain "% limit"
        val badPeer = bench("--tiny", "--peer", "tvm")
        badPeer.status shouldBe Attn.EXIT_BAD_INPUT
        badPeer.err shouldContain "--peer"
        val badWorkload = bench("--tiny", "--workload", "Q9", "--peer", "none")
        badWorkload.status shouldBe Attn.EXIT_BAD_INPUT
        badWorkload.err shouldContain "Q9"
        bench("--tiny", "--reps", "0", "--peer", "none").status shouldBe Attn.EXIT_BAD_INPUT
        bench("--tiny", "--warmup-seconds", "-1", "--peer", "none").err shouldContain "--warmup-seconds"
    }

    "an unknown --backend fails at once with one line naming the installed backends" {
        // Without --tiny: the check must come before the limits pass and the workloads, or this would take minutes.
        val r = bench("--backend", "cpu", "--backend", "nosuch", "--peer", "none")
        r.status shouldBe Attn.EXIT_BAD_INPUT
        r.out shouldBe ""
        val lines = r.err.lines().filter { it.isNotBlank() }
        lines.size shouldBe 1
        lines[0] shouldContain "--backend: expected one of ["
        lines[0] shouldContain "'nosuch'"
        for (name in listOf("reference", "cpu", "opencl")) lines[0] shouldContain name
    }
})
