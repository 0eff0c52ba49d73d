package org.attn4j.conformance.golden

/**
 * FORMAT.md's element-wise rule: `|actual - expected| <= atol + rtol * |expected|`. Two equal infinities match;
 * NaN never matches anything.
 */
data class Tolerance(val atol: Double, val rtol: Double) {
    init {
        require(atol.isFinite() && atol >= 0) { "atol: expected a finite number >= 0, got $atol" }
        require(rtol.isFinite() && rtol >= 0) { "rtol: expected a finite number >= 0, got $rtol" }
    }

    /** Whether [actual] is within this tolerance of [expected]. */
    fun allows(expected: Double, actual: Double): Boolean {
        if (expected.isNaN() || actual.isNaN()) return false
        if (expected.isInfinite() || actual.isInfinite()) return expected == actual
        return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected)
    }

    /** The largest difference allowed at [expected]. */
    fun bound(expected: Double): Double = atol + rtol * Math.abs(expected)

    override fun toString(): String = "atol $atol, rtol $rtol"

    companion object {
        /** When a case gives no tolerance. */
        @JvmField
        val DEFAULT = Tolerance(1e-5, 1e-4)

        /** What a float64 path must also meet on float64 expected values. */
        @JvmField
        val FLOAT64 = Tolerance(1e-9, 1e-9)
    }
}
