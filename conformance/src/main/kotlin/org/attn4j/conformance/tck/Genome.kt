package org.attn4j.conformance.tck

import io.kotest.property.Arb
import io.kotest.property.RandomSource
import io.kotest.property.Sample
import io.kotest.property.Shrinker
import io.kotest.property.rtree

/**
 * The values one gene may take, in shrink order: the first value is the simplest one (the shrink target),
 * so that failures shrink toward `B = 1`, one KV head, `q_len = 1`, small `head_dim` and no options.
 */
sealed interface Domain {
    /** The simplest value. */
    val first: Int

    /** Picks a value. */
    fun sample(random: kotlin.random.Random): Int

    /** Simpler values to try instead of [value], most aggressive first. */
    fun simpler(value: Int): List<Int>

    /**
     * An explicit list of values with optional relative weights (null = uniform). Values are ints; what they mean
     * (a table index, a flag, a size) is up to the decoder.
     */
    class Values(val values: IntArray, val weights: DoubleArray? = null) : Domain {
        init {
            require(values.isNotEmpty()) { "a gene needs at least one value" }
            require(weights == null || (weights.size == values.size && weights.all { it >= 0 } && weights.sum() > 0)) {
                "weights must match the values and be non-negative"
            }
        }

        override val first: Int get() = values[0]

        override fun sample(random: kotlin.random.Random): Int {
            if (weights == null) return values[random.nextInt(values.size)]
            var r = random.nextDouble() * weights.sum()
            for (i in values.indices) {
                r -= weights[i]
                if (r < 0) return values[i]
            }
            return values.last()
        }

        override fun simpler(value: Int): List<Int> {
            val at = values.indexOf(value)
            if (at <= 0) return emptyList()
            return listOf(0, at / 2, at - 1).distinct().filter { it < at }.map { values[it] }
        }
    }

    /**
     * One value that draws no random number: the default of a gene added after others, so that adding it leaves
     * every existing check's random cases exactly as they were (a [Values] of one value still consumes a draw).
     */
    class Fixed(val value: Int) : Domain {
        override val first: Int get() = value
        override fun sample(random: kotlin.random.Random): Int = value
        override fun simpler(value: Int): List<Int> = emptyList()
    }

    /** Any int in `0..max` (e.g. a data seed); shrinks toward 0. */
    class Range(val max: Int) : Domain {
        override val first: Int get() = 0
        override fun sample(random: kotlin.random.Random): Int = random.nextInt(0, max + 1)
        override fun simpler(value: Int): List<Int> = if (value <= 0) emptyList() else listOf(0, value / 2, value - 1).distinct()
    }
}

/** A genome: one value per gene of a [GenePool]. Cases are decoded from genomes, and shrinking works on genomes. */
class Genome(val pool: GenePool, val values: IntArray) {
    operator fun get(gene: Enum<*>): Int = values[pool.indexOf(gene)]

    override fun toString(): String = pool.genes.indices.joinToString(",", "genes[", "]") { "${pool.genes[it].name}=${values[it]}" }
}

/**
 * The genes of one case family and their domains (after a check's profile has restricted some of them).
 * Its [arb] draws genomes; its shrinker replaces one gene at a time by a simpler value of the same domain, so a
 * shrunk case stays inside the check's profile.
 */
class GenePool(val genes: List<Enum<*>>, val domains: List<Domain>) {
    init {
        require(genes.size == domains.size) { "one domain per gene" }
    }

    fun indexOf(gene: Enum<*>): Int = genes.indexOf(gene).also { require(it >= 0) { "unknown gene $gene" } }

    /** The genome whose every gene has its simplest value. */
    fun simplest(): Genome = Genome(this, IntArray(genes.size) { domains[it].first })

    private val shrinker = object : Shrinker<Genome> {
        // Whole-gene jumps to the simplest value first (fast progress), then halving, then single steps.
        override fun shrink(value: Genome): List<Genome> = candidates(value)
    }

    private fun candidates(g: Genome): List<Genome> {
        val out = ArrayList<Genome>()
        for (pass in 0..2) {
            for (i in genes.indices) {
                val candidates = domains[i].simpler(g.values[i])
                if (pass < candidates.size) {
                    val v = g.values.clone()
                    v[i] = candidates[pass]
                    out += Genome(this, v)
                }
            }
        }
        return out
    }

    /** Random genomes; edge case: the simplest genome. */
    fun arb(): Arb<Genome> = object : Arb<Genome>() {
        override fun edgecase(rs: RandomSource): Sample<Genome> = simplest().let { Sample(it, shrinker.rtree(it)) }

        override fun sample(rs: RandomSource): Sample<Genome> {
            val g = Genome(this@GenePool, IntArray(genes.size) { domains[it].sample(rs.random) })
            return Sample(g, shrinker.rtree(g))
        }
    }

    companion object {
        /** A pool over every constant of [E], with [defaults] overridden by [profile]. */
        fun <E : Enum<E>> of(all: Array<E>, defaults: (E) -> Domain, profile: Map<E, Domain>): GenePool =
            GenePool(all.toList(), all.map { profile[it] ?: defaults(it) })

        /** Values `0 until n` with weights. */
        fun indices(n: Int, weight: (Int) -> Double = { 1.0 }): Domain.Values =
            Domain.Values(IntArray(n) { it }, DoubleArray(n) { weight(it) })

        /** Exactly these values, uniformly. */
        fun only(vararg values: Int): Domain.Values = Domain.Values(values)
    }
}
