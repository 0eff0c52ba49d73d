package org.attn4j.dsl

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Window
import java.util.OptionalDouble

/**
 * Builds an [AttentionSpec] (the kernel-level description: heads, widths, scale, visibility):
 *
 * ```
 * val llamaLike = attention { heads(query = 32, kv = 8); headDim(128); causal(); window(left = 4096) }
 * ```
 *
 * Validation happens once, in [build], by the [AttentionSpec] record; failures are
 * [DslValidationException]s naming the path, e.g. `attention.heads: query heads 12 not divisible by kv heads 5`.
 */
fun attention(block: AttentionBuilder.() -> Unit): AttentionSpec = AttentionBuilder("attention").apply(block).build()

/** The settings shared by every kernel-level and layer-level builder: visibility, scale and softcap. */
@AttnDsl
abstract class MaskedBuilder internal constructor(internal val path: String) {
    internal var causal = false
    internal var alignment: Alignment = Alignment.BOTTOM_RIGHT
    internal var window: Window = Window.NONE
    internal var softcap = 0.0
    internal var scale: Double? = null

    /** Key `j` is hidden from query `i` when `j > d_i` (FORMAT.md); [alignment] places the diagonal `d_i`. */
    fun causal(alignment: Alignment = Alignment.BOTTOM_RIGHT) {
        causal = true
        this.alignment = alignment
    }

    /** Where the causal/window diagonal sits when `q_len != kv_len` (bottom-right by default, as in decoding). */
    fun alignment(alignment: Alignment) {
        this.alignment = alignment
    }

    /**
     * A local window around the diagonal: key `j` is visible iff `d - left <= j <= d + right`;
     * `-1` = unbounded on that side. `window(left = 4096)` lets a query see itself and the 4096 keys before it.
     */
    fun window(left: Int = -1, right: Int = -1) {
        window = validated(path) { Window(left, right) }
    }

    /** `s = softcap * tanh(s / softcap)` before masking; 0 = none. */
    fun softcap(softcap: Double) {
        this.softcap = softcap
    }

    /** Score scale; the default is `1 / sqrt(qk head width)`. */
    fun scale(scale: Double) {
        this.scale = scale
    }
}

/** See [attention]. */
class AttentionBuilder internal constructor(path: String) : MaskedBuilder(path) {
    private var qHeads: Int? = null
    private var kvHeads: Int? = null
    private var headDim: Int? = null
    private var vHeadDim: Int? = null

    /** Query heads and key/value heads (MHA: equal, MQA: `kv = 1`, GQA: a divisor of `query`). */
    fun heads(query: Int, kv: Int = query) {
        qHeads = query
        kvHeads = kv
    }

    /** Width of Q and K per head. */
    fun headDim(headDim: Int) {
        this.headDim = headDim
    }

    /** Width of V per head (default: [headDim]). */
    fun vHeadDim(vHeadDim: Int) {
        this.vHeadDim = vHeadDim
    }

    /** The immutable spec; throws [DslValidationException] naming the path and the rule. */
    fun build(): AttentionSpec {
        val q = qHeads ?: invalid("$path.heads", "not set; call heads(query = …, kv = …)")
        val kv = kvHeads ?: q
        val d = headDim ?: invalid("$path.headDim", "not set; call headDim(…)")
        // The record's constructor, not AttentionSpec.builder: the builder reads a negative vHeadDim as "unset".
        return validated(path, explainHeads(q, kv)) {
            AttentionSpec(q, kv, d, vHeadDim ?: d, scale?.let { OptionalDouble.of(it) } ?: OptionalDouble.empty(),
                causal, alignment, window, softcap)
        }
    }
}

/** Rewords the api's head-count failures in the DSL's terms (the api record did the check). */
internal fun explainHeads(q: Int, kv: Int): (String?) -> Pair<String, String>? = { argument ->
    when {
        argument == "qHeads" -> "heads" to "query heads must be >= 1, got $q"
        argument == "kvHeads" && kv < 1 -> "heads" to "kv heads must be >= 1, got $kv"
        argument == "kvHeads" && q % kv != 0 -> "heads" to "query heads $q not divisible by kv heads $kv"
        else -> null
    }
}
