package org.attn4j.bench

import com.fasterxml.jackson.databind.ObjectMapper
import io.kotest.matchers.doubles.shouldBeGreaterThanOrEqual
import io.kotest.matchers.doubles.shouldBeLessThanOrEqual
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.string.shouldContain

/** The whole suite on tiny shapes, on the float64 reference backend (always present in tests), with the ORT peer. */
class BenchSuiteTest : StringSpec({

    val report = BenchSuite.run(
        BenchSuite.Config(Workload.standard().map { Workload.tiny(it.name()) }, listOf("reference"), true, 0, 0.0, 1,
            MachineLimits.Settings.quick(), 2),
    ) { }

    "every workload has a backend row and a peer row, plus the derived rows" {
        val keys = report.rows().map { it.workload() to it.backend() }
        keys shouldContainAll listOf("P1", "P2", "D1", "D2", "M1").flatMap { listOf(it to "reference", it to "ort") }
        keys shouldContainAll listOf("fma_peak" to "machine", "dram_read" to "machine", "D1-MHA" to "reference",
            "D1 MHA/GQA" to "reference", "D1 MHA/GQA" to "ort", "M1 naive/absorbed" to "reference")
    }

    "backend rows carry value, percent and the peer ratio; units follow the kind" {
        for (name in listOf("P1", "P2", "D1", "D2", "M1")) {
            val row = report.rows().single { it.workload() == name && it.backend() == "reference" }
            row.value()!! shouldBeGreaterThan 0.0
            row.percentOfLimit()!! shouldBeGreaterThan 0.0
            row.ratioToPeer()!! shouldBeGreaterThan 0.0
            row.unit() shouldBe if (name.startsWith("P")) "GFLOP/s" else "GB/s"
            row.target() shouldNotBe null
            val peer = report.rows().single { it.workload() == name && it.backend() == "ort" }
            peer.ratioToPeer() shouldBe null
        }
    }

    "D1 is measured over paged caches too, with the time ratio to the backend's own cache" {
        for (ps in BenchSuite.PAGE_SIZES) {
            val row = report.rows().single { it.workload() == "D1-paged$ps" && it.backend() == "reference" }
            row.value()!! shouldBeGreaterThan 0.0
            row.unit() shouldBe "GB/s"
            row.note()!! shouldContain "time over D1 on the backend's own cache"
        }
    }

    "memory-bound rows are judged against the DRAM read measured alongside their calls, prefill rows against the FMA peak" {
        for (row in report.rows().filter { it.workload() in listOf("D1", "D2", "M1", "D1-MHA", "D1-paged16", "D1-paged64") && it.backend() != "machine" }) {
            row.note()!! shouldContain "DRAM read alongside the calls"
            val gbs = Regex("alongside the calls: ([0-9.]+) GB/s").find(row.note()!!)!!.groupValues[1].toDouble()
            gbs shouldBeGreaterThan 0.0
            // The note prints the DRAM figure to 0.1 GB/s: the percentage must lie in what that rounding allows.
            val fastest = 100 * row.value()!! / (gbs + 0.05)
            val slowest = if (gbs > 0.05) 100 * row.value()!! / (gbs - 0.05) else Double.MAX_VALUE
            row.percentOfLimit()!! shouldBeGreaterThanOrEqual fastest * (1 - 1e-9)
            row.percentOfLimit()!! shouldBeLessThanOrEqual slowest * (1 + 1e-9)
        }
        for (row in report.rows().filter { it.workload() in listOf("P1", "P2") }) {
            row.percentOfLimit()!! shouldBe (100 * row.value()!! / report.limits().fmaGflops() plusOrMinus 1e-9)
        }
    }

    "the JSON is an array of objects with the documented keys" {
        val tree = ObjectMapper().readTree(BenchReport.json(report.rows()))
        tree.isArray shouldBe true
        tree.size() shouldBe report.rows().size
        for (o in tree) {
            o.fieldNames().asSequence().toList().take(6) shouldBe
                listOf("workload", "backend", "value", "unit", "percent_of_limit", "ratio_to_peer")
        }
        BenchReport.table(report.rows()).lines().first().split(Regex("\\s+")).take(3) shouldBe listOf("workload", "backend", "value")
    }

    "an unknown backend gives rows with a reason instead of failing the run" {
        val r = BenchSuite.run(
            BenchSuite.Config(listOf(Workload.tiny("P2")), listOf("nope"), false, 0, 0.0, 1, MachineLimits.Settings.quick(), 1),
        ) { }
        val row = r.rows().single { it.workload() == "P2" }
        row.value() shouldBe null
        row.note()!!.contains("nope") shouldBe true
    }
})
