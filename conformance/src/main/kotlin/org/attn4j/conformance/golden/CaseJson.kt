package org.attn4j.conformance.golden

import com.fasterxml.jackson.core.JsonParser
import com.fasterxml.jackson.databind.DeserializationFeature
import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.json.JsonMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import org.attn4j.api.Alignment
import org.attn4j.api.Window

/** The strict JSON side of `case.json`: the parser settings and how a value is described in an error. */
internal object CaseJson {
    /** Duplicate keys and trailing tokens are errors, as FORMAT.md asks of a strict reader. */
    val MAPPER: JsonMapper = JsonMapper.builder()
        .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .build()

    fun describe(n: JsonNode): String {
        val what = when {
            n.isTextual -> "a string"
            n.isBoolean -> "a boolean"
            n.isIntegralNumber -> "an integer"
            n.isNumber -> "a number"
            n.isArray -> "an array"
            n.isObject -> "an object"
            n.isNull -> "null"
            else -> n.nodeType.toString()
        }
        val text = SafeText.escape(n.toString(), 60)
        return "$what $text"
    }
}

/**
 * A JSON object of a `case.json` with typed, path-named accessors; every error goes through [reader], so it names
 * the case file. Absent and `null` both mean "not given".
 */
internal class CaseObject(val node: ObjectNode, val path: String, private val reader: CaseReader) {
    fun get(key: String): JsonNode? = node.get(key)?.takeUnless { it.isNull }

    fun checkKeys(allowed: List<String>) {
        val section = path.removeSuffix(".")
        for (k in node.fieldNames()) {
            if (k !in allowed) reader.fail("$section: unknown key ${SafeText.quote(k)} (allowed: ${allowed.joinToString(", ")})")
        }
    }

    fun string(key: String): String? = get(key)?.let {
        if (!it.isTextual) reader.fail("$path$key: expected a string, got ${CaseJson.describe(it)}")
        it.textValue()
    }

    fun obj(key: String): CaseObject? = get(key)?.let { node ->
        if (node !is ObjectNode) reader.fail("$path$key: expected an object, got ${CaseJson.describe(node)}")
        if (key == "inputs" || key == "expected") reader.rememberFiles(key, node)
        CaseObject(node, "$path$key.", reader)
    }

    fun int(key: String): Int? = get(key)?.let {
        if (!it.isIntegralNumber) reader.fail("$path$key: expected an integer, got ${CaseJson.describe(it)}")
        if (!it.canConvertToInt()) reader.fail("$path$key: ${SafeText.escape(it.asText())} is out of the int range")
        it.intValue()
    }

    fun number(key: String): Double? = get(key)?.let {
        if (!it.isNumber) reader.fail("$path$key: expected a number, got ${CaseJson.describe(it)}")
        val d = it.doubleValue()
        if (!d.isFinite()) reader.fail("$path$key: expected a finite number, got ${SafeText.escape(it.asText())}")
        d
    }

    fun bool(key: String): Boolean? = get(key)?.let {
        if (!it.isBoolean) reader.fail("$path$key: expected true or false, got ${CaseJson.describe(it)}")
        it.booleanValue()
    }

    fun intArray(key: String): IntArray? = get(key)?.let { arr ->
        if (!arr.isArray) reader.fail("$path$key: expected an array of integers, got ${CaseJson.describe(arr)}")
        IntArray(arr.size()) { i ->
            val e = arr.get(i)
            if (!e.isIntegralNumber || !e.canConvertToInt()) reader.fail("$path$key[$i]: expected an integer, got ${CaseJson.describe(e)}")
            e.intValue()
        }
    }

    fun alignment(): Alignment? = string("alignment")?.let {
        when (it) {
            "bottom_right" -> Alignment.BOTTOM_RIGHT
            "top_left" -> Alignment.TOP_LEFT
            else -> reader.fail("${path}alignment: expected \"bottom_right\" or \"top_left\", got \"${SafeText.escape(it)}\"")
        }
    }

    fun window(): Window? {
        val w = intArray("window") ?: return null
        if (w.size != 2) reader.fail("${path}window: expected [left, right], got ${w.contentToString()}")
        return reader.api("${path}window") { Window(w[0], w[1]) }
    }
}
