package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.attn4j.api.FloatTensor
import org.attn4j.conformance.golden.Npy
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

/** The published reduced-precision cases (golden/reduced). */
private val reduced: Path = Paths.get("..", "golden", "reduced").toAbsolutePath().normalize()

/** A copy of reduced case [name] in a fresh temporary folder, edited by [edit]: (the folder to verify, the case folder). */
private fun hostile(name: String, edit: (Path) -> Unit): Path {
    val dir = Files.createTempDirectory("attn-verify-reduced")
    val case = Files.createDirectories(dir.resolve(name))
    Files.list(reduced.resolve(name)).use { files -> files.forEach { Files.copy(it, case.resolve(it.fileName)) } }
    edit(case)
    return dir
}

private fun Path.editJson(from: String, to: String) {
    val json = resolve("case.json")
    val text = Files.readString(json)
    check(text.contains(from)) { "case.json of $this has no '$from'" }
    Files.writeString(json, text.replace(from, to))
}

/**
 * `attn verify` on cases whose reduced-precision inputs break FORMAT.md: one ERROR line naming the file and the
 * problem, the summary line, exit status 2, and no stack trace.
 */
class VerifyReducedTest : StringSpec({

    fun rejected(dir: Path, vararg parts: String) {
        val run = runAttn("verify", dir.toString())
        run.exit shouldBe 2
        val lines = run.outLines
        lines shouldHaveSize 2
        lines[0] shouldContain "ERROR"
        for (p in parts) lines[0] shouldContain p
        lines[1] shouldBe "0 passed, 1 failed"
        (run.out + run.err) shouldNotContain "at org."
        (run.out + run.err) shouldNotContain "Exception in"
    }

    "a <u2 tensor that the bfloat16 list does not name" {
        val dir = hostile("rp-bf16-kv-gqa-kvlens") { it.editJson("\"bfloat16\": [\n    \"k\",\n    \"v\"\n  ],", "") }
        rejected(dir, "k.npy", "inputs.k: <u2 data must be named in the top-level \"bfloat16\" list")
    }

    "a name in the bfloat16 list that is not a <u2 input" {
        val dir = hostile("rp-f16-mha") { it.editJson("\"kind\": \"kernel\",", "\"kind\": \"kernel\", \"bfloat16\": [\"k\"],") }
        rejected(dir, "k.npy", "named in \"bfloat16\", so expected <u2 bit patterns, got FLOAT16 (<f2)")
    }

    "int8 without its scale" {
        val dir = hostile("rp-int8-kv-gqa-causal") { it.editJson("\"k_scale\": \"k_scale.npy\",", "") }
        rejected(dir, "k.npy", "inputs.k is int8 (|i1) but the case has no inputs.k_scale")
    }

    "a scale without its tensor" {
        val dir = hostile("rp-f16-mha") { case ->
            Npy.write(case.resolve("v_scale.npy"), FloatTensor.zeros(2, 4, 7))
            case.editJson("\"v\": \"v.npy\"", "\"v\": \"v.npy\", \"v_scale\": \"v_scale.npy\"")
        }
        rejected(dir, "case.json", "inputs.v_scale is given but inputs.v is FLOAT16 (<f2), not int8 (|i1)")
    }

    "a scale of the wrong shape" {
        // rp-int8-kv-gqa-causal: B 2, kv_heads 2, kv_len 11; the scale written as [B, kv_len, kv_heads]
        val dir = hostile("rp-int8-kv-gqa-causal") { Npy.write(it.resolve("k_scale.npy"), FloatTensor.zeros(2, 11, 2)) }
        rejected(dir, "k_scale.npy", "inputs.k_scale: shape [2, 11, 2] does not match the spec: expected [B, kv_heads, kv_len] = [2, 2, 11]")
    }

    "a NaN, infinite or negative scale" {
        for ((bad, text) in listOf(Float.NaN to "= NaN", Float.NEGATIVE_INFINITY to "= -Infinity", -1f to "= -1.0: expected a scale >= 0")) {
            val dir = hostile("rp-int8-kv-gqa-causal") { case ->
                val s = Npy.read(case.resolve("v_scale.npy")).toFloatArray()
                s[1 * 11 + 4] = bad // [b 0, h 1, t 4] of [2, 2, 11]
                Npy.write(case.resolve("v_scale.npy"), FloatTensor.of(s, 2, 2, 11))
            }
            rejected(dir, "v_scale.npy", "inputs.v_scale[0, 1, 4] $text")
        }
    }

    "a reduced type outside q, k and v" {
        val dir = hostile("rp-bf16-kv-gqa-kvlens") { case ->
            Files.copy(case.resolve("k.npy"), case.resolve("bias.npy"))
            case.editJson("\"kv_lens\": \"kv_lens.npy\"", "\"kv_lens\": \"kv_lens.npy\", \"bias\": \"bias.npy\"")
        }
        rejected(dir, "bias.npy", "inputs.bias: expected float (<f4 or <f8), got BFLOAT16")
    }
})
