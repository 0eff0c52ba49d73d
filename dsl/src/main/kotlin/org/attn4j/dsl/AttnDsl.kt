package org.attn4j.dsl

import org.attn4j.api.AttentionException

/**
 * Marks every attn4j builder, so an inner block cannot silently call an outer receiver
 * (inside `model { gqa { ... } }`, `layers(…)` of the model is not reachable without `this@model`).
 */
@DslMarker
@Target(AnnotationTarget.CLASS, AnnotationTarget.TYPE)
annotation class AttnDsl

/**
 * A builder's configuration broke a rule. The message names the DSL path and the rule, e.g.
 * `attention.heads: query heads 12 not divisible by kv heads 5`. It is an [AttentionException], so every
 * caller that reports bad input (the `attn` command line included) reports it as one line.
 *
 * @property path where in the DSL the bad value was given (`attention.heads`, `model("x").gqa.headDim`)
 * @property rule what was wrong, in words
 */
class DslValidationException(val path: String, val rule: String, cause: Throwable? = null) :
    AttentionException("$path: $rule", cause)

internal fun invalid(path: String, rule: String): Nothing = throw DslValidationException(path, rule)

/**
 * Runs [construct] (an api record constructor, which holds the real checks) and turns its
 * [AttentionException] into a [DslValidationException] on [path]. [explain] may reword a failure in the
 * DSL's vocabulary given the api argument that failed; by default the api's own message is kept.
 */
internal inline fun <T> validated(
    path: String,
    explain: (argument: String?) -> Pair<String, String>? = { null },
    construct: () -> T,
): T = try {
    construct()
} catch (e: DslValidationException) {
    throw e
} catch (e: AttentionException) {
    val (suffix, rule) = explain(e.argument()) ?: (apiPath(e.argument()) to (e.message ?: "invalid"))
    throw DslValidationException(if (suffix.isEmpty()) path else "$path.$suffix", rule, e)
}

/** The DSL setter that feeds an api argument: `kvHeads` is set by `heads(...)`, `window.left` by `window(...)`. */
internal fun apiPath(argument: String?): String = when (argument) {
    null -> ""
    "qHeads", "kvHeads" -> "heads"
    "window.left", "window.right" -> "window"
    "qkNopeHeadDim" -> "nopeDim"
    "qkRopeHeadDim" -> "ropeDim"
    "qkNopeHeadDim + qkRopeHeadDim" -> "nopeDim"
    else -> argument
}
