package org.attn4j.conformance.tck

import java.nio.file.Files

/**
 * The summary of a TCK run: a table of check x backend (`pass (cases, worst ratio)` / `partial: n run, m declined (reasons)` /
 * `skipped: reason` / `FAIL`),
 * then every failure in full and every reason a backend gave for declining cases. Skips are never silent: each
 * one is listed with the backend's words and how many cases it covered.
 */
object TckSummary {
    private var lastPrinted: String? = null

    /** The report as Markdown. */
    fun markdown(config: TckConfig, results: Map<String, List<CheckResult>> = TckResults.snapshot(),
                 unavailable: Map<String, String> = TckResults.unavailableReasons()): String = buildString {
        val backends = results.keys.toList()
        appendLine("# attn4j TCK report")
        appendLine()
        appendLine("Seed ${config.seed} (replay: `-Dattn4j.tck.seed=${config.seed}`), ${config.iterations} cases per kernel check, " +
            "${config.layerIterations} per layer check, at most ${config.maxCost} multiply-adds per kernel case" +
            (if (config.boundaries) "; the `kernel/boundary-*` checks add fixed cases at each backend's path sizes, beyond that cap." else "."))
        appendLine("A cell reads `pass (cases run, worst error/allowed)`; the accuracy rule (float32) is " +
            "`max|backend - ref64| <= 2 max|naive32 - ref64| + 1e-6 scale + score conditioning`, float64 backends " +
            "`1e-9 max(1, scale)` (see conformance/README.md). Nightly setting: `${TckConfig.NIGHTLY_HINT}`.")
        appendLine("How much a pass proves: the suite's mutation scores on attn4j's own kernels (PIT on kernels-cpu, a source " +
            "mutator on attention.cl) and its branch coverage of kernels-cpu are in attn4j's docs/TCK-PROOF.md, with the commands.")
        appendLine()
        if (backends.isEmpty()) {
            appendLine("No backend was run.")
            return@buildString
        }
        appendLine("| backend | passed | partial | skipped | failed |")
        appendLine("|---|---|---|---|---|")
        for (b in backends) {
            val r = results.getValue(b)
            val note = unavailable[b]?.let { " (unavailable: ${escape(it)})" } ?: ""
            val partial = r.count { it is CheckResult.Passed && it.partial }
            appendLine("| $b$note | ${r.count { it is CheckResult.Passed } - partial} | $partial | ${r.count { it is CheckResult.Skipped }} | ${r.count { it is CheckResult.Failed }} |")
        }
        appendLine()
        appendLine("`partial` is a partial skip: the backend declined most of the check's cases (more than it ran, or it ran " +
            "fewer than ${CheckResult.Passed.MIN_CASES}), so its pass says little; the reasons are listed below.")
        appendLine()
        val checks = LinkedHashSet<String>()
        AttentionTck.CHECKS.forEach { if (results.values.any { r -> r.any { x -> x.check == it.name } }) checks += it.name }
        results.values.forEach { r -> r.forEach { checks += it.check } }
        appendLine("| check | " + backends.joinToString(" | ") + " |")
        appendLine("|---|" + backends.joinToString("") { "---|" })
        for (c in checks) {
            val cells = backends.map { b -> results.getValue(b).firstOrNull { it.check == c }?.cell?.let(::escape) ?: "not run" }
            appendLine("| $c | " + cells.joinToString(" | ") + " |")
        }
        val failures = backends.flatMap { b -> results.getValue(b).filterIsInstance<CheckResult.Failed>().map { b to it } }
        if (failures.isNotEmpty()) {
            appendLine()
            appendLine("## Failures")
            for ((b, f) in failures) {
                appendLine()
                appendLine("```")
                appendLine(f.report(b))
                appendLine("```")
            }
        }
        val declines = backends.flatMap { b ->
            results.getValue(b).flatMap { r ->
                when (r) {
                    is CheckResult.Skipped -> r.reasons.map { (why, n) -> Triple(b, r.check, "skipped: $why" + if (n > 0) " ($n cases)" else "") }
                    is CheckResult.Passed -> r.declined.map { (why, n) ->
                        Triple(b, r.check, (if (r.partial) "partial skip, " else "") + "declined $n of ${r.declinedCount + r.cases} cases: $why")
                    } +
                        r.notes.map { Triple(b, r.check, "note: $it") }
                    is CheckResult.Failed -> emptyList()
                }
            }
        }
        if (declines.isNotEmpty()) {
            appendLine()
            appendLine("## Skipped and declined cases (the backends' reasons)")
            appendLine()
            for ((b, c, why) in declines) appendLine("- $b, $c: ${escape(why)}")
        }
    }

    /** Prints the table (once per change) and writes it to [TckConfig.reportFile]. */
    @Synchronized
    fun publish(config: TckConfig) {
        val text = markdown(config)
        if (text != lastPrinted) {
            println(text)
            lastPrinted = text
        }
        val file = config.reportFile ?: return
        file.toAbsolutePath().parent?.let { Files.createDirectories(it) }
        Files.writeString(file, text)
        println("[attn4j-tck] summary written to ${file.toAbsolutePath()}")
    }

    private fun escape(s: String): String = s.replace("|", "\\|").replace("\n", " ")
}
