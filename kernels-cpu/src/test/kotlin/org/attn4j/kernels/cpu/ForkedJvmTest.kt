package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.string.shouldContain
import org.attn4j.api.AttentionSpec
import java.io.File
import java.util.Random
import java.util.concurrent.TimeUnit

/**
 * Runs in a separate JVM (see [ForkedJvmTest]): prints the kernel choice of that JVM, then checks the default
 * backend (that choice) against the float64 reference over awkward head_dims on both kernel paths.
 */
object ForkedChecks {
    @JvmStatic
    fun main(args: Array<String>) {
        val choice = CpuKernels.choice()
        println("CHOICE ${choice.kernels().name()} | ${choice.reason()}")
        val backend = CpuBackend()
        val rng = Random(61)
        coldEqualsHot(backend, rng)
        if (args.contains("no-sweep")) return println("ALL OK")
        for (d in listOf(1, 3, 4, 5, 7, 8, 9, 15, 17, 33, 65)) {
            val spec = AttentionSpec.builder(4, 2, d).vHeadDim(d + 1).causal().build()
            checkKernel(backend, "decode d=$d", spec, qkv(rng, spec, 1, 2, 29))
            checkKernel(backend, "prefill d=$d", spec, qkv(rng, spec, 1, 21, 37))
            val mha = AttentionSpec.builder(2, 2, d).build()
            checkKernel(backend, "mha d=$d", mha, qkv(rng, mha, 1, 9, 23))
        }
        println("ALL OK")
    }

    /**
     * The first calls of a fresh JVM run interpreted code (the Vector API's Java fallbacks); after a few hundred
     * calls C2 has compiled the kernels. Both must give the same bits.
     */
    private fun coldEqualsHot(backend: CpuBackend, rng: Random) {
        val spec = AttentionSpec.builder(8, 2, 40).softcap(5.0).causal().build()
        val mha = AttentionSpec.builder(3, 3, 33).build()
        val cases = listOf(spec to qkv(rng, spec, 1, 24, 48), spec to qkv(rng, spec, 2, 1, 200), mha to qkv(rng, mha, 1, 12, 40))
        val plans = cases.map { (s, i) -> backend.plan(i.validate(s), options()) }
        fun outputs() = cases.indices.map { n -> plans[n].run(cases[n].second).let { (it.out() as org.attn4j.api.FloatTensor).data().toList() + (it.lse() as org.attn4j.api.FloatTensor).data().toList() } }
        val cold = outputs()
        repeat(150) { outputs() }
        check(outputs() == cold) { "results of the first (interpreted) calls differ from compiled ones" }
        plans.forEach { it.close() }
        println("COLD == HOT")
    }
}

/** What one JVM cannot test about itself: the lookup without the incubator module, and other vector widths. */
class ForkedJvmTest : StringSpec({
    fun fork(vararg jvmArgs: String, sweep: Boolean = true): String {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val cp = System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path")
        val p = ProcessBuilder(listOf(java, "-Xmx512m") + jvmArgs + listOf("-cp", cp, ForkedChecks::class.java.name) + if (sweep) listOf() else listOf("no-sweep"))
            .redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(120, TimeUnit.SECONDS)) { "forked JVM timed out:\n$out" }
        check(p.exitValue() == 0) { "forked JVM failed (exit ${p.exitValue()}):\n$out" }
        return out
    }

    "without --add-modules jdk.incubator.vector the lookup falls back to scalar, and attention still works" {
        val out = fork()
        out shouldContain "CHOICE scalar | scalar fallback: jdk.incubator.vector is not in the boot layer"
        out shouldContain "COLD == HOT"
        out shouldContain "ALL OK"
    }

    "every species (16, 8 and 4 lanes) gives the same bits cold and compiled; 8 and 4 lanes pass the head_dim sweep" {
        for (bits in listOf(512, 256, 128)) {
            // 512 bits is emulated (Java code, slow) on a machine with narrower vectors: no head_dim sweep there
            val out = fork("--add-modules", "jdk.incubator.vector", "-Dattn4j.cpu.vectorBits=$bits", "-Dattn4j.cpu.vectorBits.emulate=true", sweep = bits != 512)
            out shouldContain "CHOICE vector($bits bits"
            out shouldContain "COLD == HOT"
            out shouldContain "ALL OK"
        }
    }
})
