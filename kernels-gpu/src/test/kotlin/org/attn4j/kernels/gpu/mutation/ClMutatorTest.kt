package org.attn4j.kernels.gpu.mutation

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe

/** The attention.cl mutator on small snippets (no device needed), so the mutation profile cannot rot unnoticed. */
class ClMutatorTest : StringSpec({
    "a three-line snippet gives exactly the expected mutants, comments and #-lines untouched" {
        val src = """
            |#define N (a < b)
            |for (int i = 0; i < n; i += 2) acc += fmax(x[i], m); /* i < n */
            |if (k != 0) barrier(CLK_LOCAL_MEM_FENCE); // k == 0
        """.trimMargin()
        val ms = ClMutator.mutants(src)
        ms.map { "${it.id} ${it.apply(src).lines()[it.line - 1]}" } shouldBe listOf(
            "REL:2:19 for (int i = 0; i <= n; i += 2) acc += fmax(x[i], m); /* i < n */",
            "BOUND:2:21 for (int i = 0; i < (n) - 1; i += 2) acc += fmax(x[i], m); /* i < n */",
            "ACC:2:36 for (int i = 0; i < n; i += 2) acc -= fmax(x[i], m); /* i < n */",
            "MINMAX:2:39 for (int i = 0; i < n; i += 2) acc += fmin(x[i], m); /* i < n */",
            "INDEX+1:2:46 for (int i = 0; i < n; i += 2) acc += fmax(x[(i) + 1], m); /* i < n */",
            "INDEX-1:2:46 for (int i = 0; i < n; i += 2) acc += fmax(x[(i) - 1], m); /* i < n */",
            "REL:3:7 if (k == 0) barrier(CLK_LOCAL_MEM_FENCE); // k == 0",
            "BARRIER:3:13 if (k != 0) (void) 0; // k == 0",
        )
    }

    "rescale terms: exp of a difference becomes 1, a rescale factor is dropped" {
        val src = "alpha = exp(mOld - mNew);\nacc = lO[idx] * rowAlpha[rr] + exp(s);\n__local REAL* rowAlpha = lRow;"
        val ms = ClMutator.mutants(src).filter { it.kind == ClMutator.Kind.RESCALE }
        ms.map { it.apply(src) } shouldBe listOf(
            "alpha = ((REAL) 1);\nacc = lO[idx] * rowAlpha[rr] + exp(s);\n__local REAL* rowAlpha = lRow;",
            "alpha = exp(mOld - mNew);\nacc = lO[idx] + exp(s);\n__local REAL* rowAlpha = lRow;",
        )
    }

    "attention.cl: every mutant changes the source once, ids are unique, every kind occurs" {
        val src = ClMutatorTest::class.java.getResource("/org/attn4j/kernels/gpu/attention.cl")!!.readText()
        val ms = ClMutator.mutants(src)
        ms.size shouldBeGreaterThan 100
        ms.map { it.id }.toSet().size shouldBe ms.size
        ms.map { it.kind }.toSet() shouldContainAll ClMutator.Kind.entries
        for (m in ms) {
            val mutated = m.apply(src)
            (mutated == src) shouldBe false
            mutated.substring(0, m.start) shouldBe src.substring(0, m.start)
        }
        // the pragma and the comments' "exp(m_s - M)" are never mutated (lines found by content: the kernel grows)
        val lines = src.lines()
        val untouchable = lines.indices.filter { lines[it].trimStart().startsWith("#pragma") || lines[it].contains("exp(m_s - M)") }
            .map { it + 1 }.toSet()
        untouchable.size shouldBeGreaterThan 1
        ms.none { it.line in untouchable } shouldBe true
    }
})
