package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

/** A chunk [B, H, n, D] whose element (b, h, t, d) is `base + 1000 b + 100 h + 10 t + d`: every value is distinct. */
private fun chunk(b: Int, h: Int, n: Int, d: Int, base: Double): DoubleTensor {
    val t = DoubleTensor.zeros(b, h, n, d)
    for (s in 0 until b) for (x in 0 until h) for (i in 0 until n) for (c in 0 until d) {
        t.set(base + 1000.0 * s + 100.0 * x + 10.0 * i + c, s, x, i, c)
    }
    return t
}

/** Every element of [t] as a list (row-major), for exact comparisons. */
private fun values(t: Tensor) = t.toDoubleArray().toList()

class KvCacheTest : StringSpec({
    val heads = 2
    val headDim = 3
    val vHeadDim = 2

    fun contiguous(maxLength: Int) = ContiguousKvCache(DType.FLOAT64, 2, heads, maxLength, headDim, vHeadDim)
    fun paged(pageCount: Int, maxLength: Int) =
        PagedKvCache(DType.FLOAT64, 2, heads, headDim, vHeadDim, 3, pageCount, maxLength)
    fun tiled(maxLength: Int, tile: Int = 3) = TiledKvCache(DType.FLOAT64, 2, heads, maxLength, headDim, vHeadDim, tile)

    "appended keys and values read back exactly, chunk after chunk" {
        for (cache in listOf<KvCache>(contiguous(10), paged(8, 10), tiled(10))) {
            val k1 = chunk(2, heads, 4, headDim, 0.0)
            val v1 = chunk(2, heads, 4, vHeadDim, 0.5)
            val k2 = chunk(2, heads, 2, headDim, 10_000.0)
            val v2 = chunk(2, heads, 2, vHeadDim, 10_000.5)
            cache.append(k1, v1)
            cache.append(k2, v2)
            for (s in 0 until 2) {
                cache.length(s) shouldBe 6
                val keys = cache.keys(s)
                keys.shape().toList() shouldBe listOf(heads, 6, headDim)
                for (h in 0 until heads) for (t in 0 until 6) for (c in 0 until headDim) {
                    val expected = if (t < 4) k1.get(s, h, t, c) else k2.get(s, h, t - 4, c)
                    keys.getDouble(h, t, c) shouldBe expected
                }
                for (h in 0 until heads) for (t in 0 until 6) for (c in 0 until vHeadDim) {
                    val expected = if (t < 4) v1.get(s, h, t, c) else v2.get(s, h, t - 4, c)
                    cache.values(s).getDouble(h, t, c) shouldBe expected
                }
            }
            cache.maxCurrentLength() shouldBe 6
        }
    }

    "per-sequence appends give sequences their own lengths, and gather pads with kv_lens" {
        for (cache in listOf<KvCache>(contiguous(10), paged(8, 10), tiled(10))) {
            cache.append(1, chunk(1, heads, 5, headDim, 0.0).select(0, 0), chunk(1, heads, 5, vHeadDim, 0.0).select(0, 0))
            cache.append(0, chunk(1, heads, 2, headDim, 7.0).select(0, 0), chunk(1, heads, 2, vHeadDim, 7.0).select(0, 0))
            cache.length(0) shouldBe 2
            cache.length(1) shouldBe 5
            val inputs = cache.gather(DoubleTensor.zeros(2, 4, 1, headDim))
            inputs.kvLens()!!.toIntArray().toList() shouldBe listOf(2, 5)
            inputs.k().shape().toList() shouldBe listOf(2, heads, 5, headDim)
            inputs.k().getDouble(0, 1, 1, 2) shouldBe 7.0 + 100 + 10 + 2
            inputs.k().getDouble(0, 1, 3, 2) shouldBe 0.0          // padding
            inputs.v().getDouble(1, 1, 4, 1) shouldBe 100.0 + 40 + 1
            shouldThrow<AttentionException> { cache.gather(DoubleTensor.zeros(3, 4, 1, headDim)) }.argument() shouldBe "q.shape[0]"
        }
    }

    "appending past capacity fails and leaves lengths and contents unchanged" {
        for (cache in listOf<KvCache>(contiguous(5), paged(8, 5), tiled(5), tiled(5, 2))) {
            val k = chunk(2, heads, 4, headDim, 0.0)
            val v = chunk(2, heads, 4, vHeadDim, 0.0)
            cache.append(k, v)
            val keysBefore = (0 until 2).map { values(cache.keys(it)) }
            val valuesBefore = (0 until 2).map { values(cache.values(it)) }
            val storeBefore = (cache as? ContiguousKvCache)?.let { values(it.keyStore()) }
            val e = shouldThrow<AttentionException> {
                cache.append(chunk(2, heads, 2, headDim, 5000.0), chunk(2, heads, 2, vHeadDim, 5000.0))
            }
            e.argument() shouldBe "append"
            e.message!! shouldContain "at most 1 new tokens for sequence 0 (cache length 4, maxLength 5), got 2"
            // one sequence full, the other not: the per-sequence append is also all-or-nothing
            shouldThrow<AttentionException> {
                cache.append(1, chunk(1, heads, 2, headDim, 5000.0).select(0, 0), chunk(1, heads, 2, vHeadDim, 5000.0).select(0, 0))
            }
            for (s in 0 until 2) {
                cache.length(s) shouldBe 4
                values(cache.keys(s)) shouldBe keysBefore[s]
                values(cache.values(s)) shouldBe valuesBefore[s]
            }
            if (cache is ContiguousKvCache) values(cache.keyStore()) shouldBe storeBefore   // not even stale slots written
            if (cache is PagedKvCache) cache.freePageCount() shouldBe 8 - 2 * 2             // ceil(4/3) = 2 pages each
            if (cache is TiledKvCache) {
                // the stale slots of the last tile stay zero
                values(cache.keyTiles().select(0, 0).select(1, cache.keyTiles().size(2) - 1).select(2, cache.tile() - 1)) shouldBe
                    List(heads * headDim) { 0.0 }
            }
        }
    }

    "bad chunks are rejected before any write" {
        val cache = contiguous(10)
        shouldThrow<AttentionException> { cache.append(DoubleTensor.zeros(2, heads, 1, headDim + 1), DoubleTensor.zeros(2, heads, 1, vHeadDim)) }
            .argument() shouldBe "k.shape"
        shouldThrow<AttentionException> { cache.append(DoubleTensor.zeros(2, heads, 1, headDim), DoubleTensor.zeros(2, heads, 2, vHeadDim)) }
            .argument() shouldBe "v.shape"
        shouldThrow<AttentionException> { cache.append(DoubleTensor.zeros(2, heads, 1, headDim), null) }.argument() shouldBe "v"
        val nan = DoubleTensor.zeros(2, heads, 1, vHeadDim).also { it.set(Double.NaN, 1, 0, 0, 1) }
        shouldThrow<AttentionException> { cache.append(DoubleTensor.zeros(2, heads, 1, headDim), nan) }.argument() shouldBe "v[1, 0, 0, 1]"
        shouldThrow<AttentionException> { cache.append(2, DoubleTensor.zeros(heads, 1, headDim), DoubleTensor.zeros(heads, 1, vHeadDim)) }
            .argument() shouldBe "sequence"
        cache.length(0) shouldBe 0
        cache.length(1) shouldBe 0
    }

    "a paged cache with pageSize 3 equals a contiguous one over lengths crossing pages" {
        val dense = contiguous(11)
        val pages = paged(8, 11)
        for ((n, base) in listOf(2 to 0.0, 1 to 20_000.0, 4 to 40_000.0, 3 to 60_000.0, 1 to 80_000.0)) {
            val k = chunk(2, heads, n, headDim, base)
            val v = chunk(2, heads, n, vHeadDim, base + 0.25)
            dense.append(k, v)
            pages.append(k, v)
            for (s in 0 until 2) {
                pages.length(s) shouldBe dense.length(s)
                values(pages.keys(s)) shouldBe values(dense.keys(s))
                values(pages.values(s)) shouldBe values(dense.values(s))
                pages.blockTable(s).size shouldBe (dense.length(s) + 2) / 3
            }
        }
        values(pages.gather(DoubleTensor.zeros(2, 2, 1, headDim)).k()) shouldBe
            values(dense.gather(DoubleTensor.zeros(2, 2, 1, headDim)).k())
        pages.freePageCount() shouldBe 8 - 2 * 4          // 11 tokens = 4 pages per sequence
    }

    "a tiled cache equals a contiguous one over chunks crossing tiles, for tile lengths 1 to 12" {
        for (tile in listOf(1, 2, 3, 4, 5, 12)) {
            val dense = contiguous(11)
            val tiles = tiled(11, tile)
            tiles.keyTiles().shape().toList() shouldBe listOf(2, heads, (11 + tile - 1) / tile, headDim, tile)
            for ((n, base) in listOf(2 to 0.0, 1 to 20_000.0, 4 to 40_000.0, 3 to 60_000.0, 1 to 80_000.0)) {
                val k = chunk(2, heads, n, headDim, base)
                val v = chunk(2, heads, n, vHeadDim, base + 0.25)
                dense.append(k, v)
                tiles.append(k, v)
                for (s in 0 until 2) {
                    tiles.length(s) shouldBe dense.length(s)
                    values(tiles.keys(s)) shouldBe values(dense.keys(s))
                    values(tiles.values(s)) shouldBe values(dense.values(s))
                }
            }
            // the layout itself: token t, dim e of (sequence 1, head 1) sits at tile t / tile, row e, column t % tile
            for (t in 0 until 11) for (e in 0 until headDim) {
                tiles.keyTiles().getDouble(1, 1, t / tile, e, t % tile) shouldBe dense.keys(1).getDouble(1, t, e)
            }
            tiles.reset()
            tiles.maxCurrentLength() shouldBe 0
            shouldThrow<AttentionException> { TiledKvCache(DType.FLOAT32, 1, 1, 4, 4, 4, 0) }.argument() shouldBe "tile"
        }
    }

    "release returns a sequence's pages and reset returns all" {
        val pages = paged(6, 9)
        pages.append(chunk(2, heads, 4, headDim, 0.0), chunk(2, heads, 4, vHeadDim, 0.0))
        pages.freePageCount() shouldBe 2
        val held = pages.blockTable(0).toSet()
        pages.release(0)
        pages.length(0) shouldBe 0
        pages.blockTable(0).size shouldBe 0
        pages.freePageCount() shouldBe 4
        pages.length(1) shouldBe 4
        // 9 tokens need 3 of the 4 free pages, so a freed page is reused; sequence 1 is untouched
        val before1 = values(pages.keys(1))
        pages.append(0, chunk(1, heads, 9, headDim, 9000.0).select(0, 0), chunk(1, heads, 9, vHeadDim, 9000.0).select(0, 0))
        pages.freePageCount() shouldBe 1
        (pages.blockTable(0).toSet() intersect held).isNotEmpty() shouldBe true
        (pages.blockTable(0).toSet() intersect pages.blockTable(1).toSet()) shouldBe emptySet()
        values(pages.keys(1)) shouldBe before1
        pages.keys(0).getDouble(1, 8, 2) shouldBe 9000.0 + 100 + 80 + 2
        pages.reset()
        pages.freePageCount() shouldBe 6
        pages.maxCurrentLength() shouldBe 0
    }

    "running out of pages fails before any write" {
        // 4 pages of 3 tokens shared by two sequences that may each hold 9 tokens
        val pages = paged(4, 9)
        pages.append(chunk(2, heads, 3, headDim, 0.0), chunk(2, heads, 3, vHeadDim, 0.0))   // 1 page each
        pages.append(0, chunk(1, heads, 3, headDim, 500.0).select(0, 0), chunk(1, heads, 3, vHeadDim, 500.0).select(0, 0))
        pages.freePageCount() shouldBe 1
        val keys0 = values(pages.keys(0))
        val keys1 = values(pages.keys(1))
        val tables = (0 until 2).map { pages.blockTable(it).toList() }
        // 1 more token each needs 2 pages: only 1 is free
        val e = shouldThrow<AttentionException> {
            pages.append(chunk(2, heads, 1, headDim, 7000.0), chunk(2, heads, 1, vHeadDim, 7000.0))
        }
        e.message shouldBe "append: expected at most 1 free pages, got 2 pages needed"
        pages.freePageCount() shouldBe 1
        pages.length(0) shouldBe 6
        pages.length(1) shouldBe 3
        values(pages.keys(0)) shouldBe keys0
        values(pages.keys(1)) shouldBe keys1
        (0 until 2).map { pages.blockTable(it).toList() } shouldBe tables
        // the one free page was not written either (a half-done append would have put sequence 0's token there)
        val freePage = (0 until 4).first { it !in pages.blockTable(0) && it !in pages.blockTable(1) }
        values(pages.keyPages().select(0, freePage)) shouldBe List(heads * 3 * headDim) { 0.0 }
        values(pages.valuePages().select(0, freePage)) shouldBe List(heads * 3 * vHeadDim) { 0.0 }
    }

    "caches validate their dimensions" {
        shouldThrow<AttentionException> { ContiguousKvCache(DType.BOOL, 1, 1, 1, 1, 1) }.argument() shouldBe "dtype"
        shouldThrow<AttentionException> { ContiguousKvCache(DType.FLOAT32, 0, 1, 1, 1, 1) }.argument() shouldBe "sequences"
        shouldThrow<AttentionException> { ContiguousKvCache(DType.FLOAT32, 1, 1, -1, 1, 1) }.argument() shouldBe "maxLength"
        shouldThrow<AttentionException> { PagedKvCache(DType.FLOAT32, 1, 1, 4, 4, 0, 4, 16) }.argument() shouldBe "pageSize"
        shouldThrow<AttentionException> { PagedKvCache(DType.FLOAT32, 1, 1, 4, 4, 2, 0, 16) }.argument() shouldBe "pageCount"
        val keysOnly = ContiguousKvCache(DType.FLOAT32, 1, 1, 4, 5, 0)
        keysOnly.append(0, FloatTensor.zeros(1, 2, 5), null)
        shouldThrow<AttentionException> { keysOnly.values(0) }.argument() shouldBe "values"
        shouldThrow<AttentionException> { keysOnly.gather(FloatTensor.zeros(1, 1, 1, 5)) }.argument() shouldBe "cache.vHeadDim"
    }
})
