package org.attn4j.dsl

import org.attn4j.api.MaskMod
import org.attn4j.api.ScoreMod

/**
 * FlexAttention-style modifications (golden/FORMAT.md plus two hooks): a `scoreMod` rewrites each score at the end
 * of step 3 (after scale, softcap, bias and ALiBi); a `maskMod` is one more visibility rule of step 4. The
 * `reference` and `cpu` backends run them; backends that cannot (opencl) decline with a reason.
 *
 * ```
 * val relativeBias = scoreMod { score, _, _, i, j -> score - 0.1 * abs(i - j) }
 * val documents = maskMod { b, _, i, j -> docOf(b, i) == docOf(b, j) }
 * ```
 */
fun scoreMod(f: (score: Double, b: Int, h: Int, i: Int, j: Int) -> Double): ScoreMod = ScoreMod(f)

/** See [scoreMod]; `true` = query `i` may attend to key `j`. */
fun maskMod(f: (b: Int, h: Int, i: Int, j: Int) -> Boolean): MaskMod = MaskMod(f)

/** Common mask mods, named as in FlexAttention's examples. */
object MaskMods {
    /** Queries see keys of their own document only; `documentOf[j]` is the document of position `j` (queries and keys share positions). */
    fun documents(documentOf: IntArray): MaskMod = MaskMod { _, _, i, j ->
        i < documentOf.size && j < documentOf.size && documentOf[i] == documentOf[j]
    }

    /** A prefix of [prefix] tokens every query sees in full (prefix-LM), the rest causal (top-left positions). */
    fun prefixLm(prefix: Int): MaskMod = MaskMod { _, _, i, j -> j < prefix || j <= i }
}
