package org.attn4j.conformance.tck

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionBackend
import org.attn4j.api.DType
import org.attn4j.api.PathSizes
import org.attn4j.api.Window

/**
 * Deterministic cases at the sizes where a backend changes path ([AttentionBackend.pathSizes]): random cases under
 * [TckConfig.maxCost] almost never reach a second KV tile, split-KV decode or head dims of 256 with long sequences,
 * so every default run adds these. For each named size `n` they use lengths `n - 1, n, n + 1` and `3n + 1` (several
 * tiles); decode shapes above each split threshold (batch 1, few KV heads, so that the keys really are split; with
 * causal, window, kv_lens, sinks, masks); head dims at the vector widths ±1, 255 and 256 with `Lq, Lk >= 64`, and the
 * absorbed MLA decode shape (576 / 512, one KV head). They do not count against [TckConfig.iterations] and may exceed
 * [TckConfig.maxCost].
 *
 * They are judged by the same oracle as the random cases ([KernelChecks.judge], [KernelChecks.decodeCase]); a
 * failing case is shrunk by [simpler] (options off, fewer heads, shorter) and printed with its data seed. The cases
 * depend only on the backend's sizes and the seed, so the replay line of a failure runs them again.
 * `-Dattn4j.tck.boundaries=false` leaves them out.
 */
object BoundaryChecks {
    /** Every boundary check's name starts with this. */
    const val PREFIX = "kernel/boundary-"

    /**
     * Sizes for a list a backend leaves empty: common tile sizes (64, 128), a query tile of 256 rows, split-KV from
     * 512 keys, vector widths of 8 and 16 floats (AVX2, AVX-512), pages of 16 tokens.
     */
    val DEFAULTS = PathSizes(listOf(64, 128), listOf(256), listOf(512), listOf(8, 16), listOf(16))

    /** Larger named sizes are ignored: their cases would cost too much for a default run. */
    const val MAX_SIZE = 2048

    val ALL: List<TckCheck> by lazy { listOf(lengths(), splitKv(), headDims(), decodeCaches(), reducedStorage()) }

    /** [backend]'s sizes, each empty list replaced by the default one, sizes above [MAX_SIZE] dropped. */
    fun sizesOf(backend: AttentionBackend): PathSizes {
        val p = backend.pathSizes()
        fun pick(own: List<Int>, default: List<Int>) = own.filter { it <= MAX_SIZE }.ifEmpty { default }
        return PathSizes(pick(p.kvTiles(), DEFAULTS.kvTiles()), pick(p.queryRows(), DEFAULTS.queryRows()),
            pick(p.splitKeys(), DEFAULTS.splitKeys()), pick(p.lanes(), DEFAULTS.lanes()), pick(p.pageSizes(), DEFAULTS.pageSizes()))
    }

    /** `n - 1, n, n + 1` and `3n + 1` (at least three tiles), positive. */
    fun around(n: Int): List<Int> = listOf(n - 1, n, n + 1, 3 * n + 1).filter { it >= 1 }.distinct()

    /** One case; options off unless given. */
    internal fun case(
        seed: Long, lq: Int, lk: Int, b: Int = 1, hq: Int = 1, hkv: Int = 1, d: Int = 64, dv: Int = d,
        causal: Boolean = false, topLeft: Boolean = false, window: Window = Window.NONE, softcap: Double = 0.0,
        bias: Broadcast? = null, mask: Broadcast? = null, maskFill: MaskFill = MaskFill.DENSE, alibi: Boolean = false,
        sinks: Boolean = false, kvLens: KvLensMode = KvLensMode.NONE, scoreMagnitude: Double = 1.0, layout: Layout = Layout.CONTIGUOUS,
        kvDtype: DType = DType.FLOAT32,
    ) = KernelCase(
        batch = b, qHeads = hq, kvHeads = hkv, headDim = d, vHeadDim = dv, qLen = lq, kvLen = lk, scale = null, causal = causal,
        alignment = if (topLeft) Alignment.TOP_LEFT else Alignment.BOTTOM_RIGHT, window = window, softcap = softcap,
        bias = bias, biasAmplitude = 1.0, mask = mask, maskFill = maskFill, alibi = alibi, sinks = sinks, kvLens = kvLens,
        scoreMagnitude = scoreMagnitude, valueMagnitude = 1.0, layout = layout, dataSeed = seed, kvDtype = kvDtype,
    )

    /** Data seeds of a check's cases: from the run's seed and the check's name, one per case. */
    internal class Seeds(config: TckConfig, name: String) {
        private var next = config.seedFor(name) and 0x3fffffffffffL
        fun next(): Long = next++
    }

    private fun oracle(name: String, description: String, cases: (PathSizes, Seeds) -> List<KernelCase>): TckCheck =
        TckCheck(name, description) { backend, config ->
            PropertyRunner.runCases(name, cases(sizesOf(backend), Seeds(config, name)), config, simpler = ::simpler) {
                KernelChecks.judge(backend, it)
            }
        }

    /** Key and query lengths at every named size: a KV tile ±1, several tiles, a query tile ±1, the packing switch. */
    internal fun lengthCases(p: PathSizes, s: Seeds): List<KernelCase> {
        val out = ArrayList<KernelCase>()
        for ((k, n) in p.all().withIndex()) {
            for ((i, l) in around(n).withIndex()) {
                val odd = (k + i) % 2 == 1
                // Lk at the boundary. A KV group of 36 query rows: keys packed, tile doubled for d <= 64.
                out += case(s.next(), lq = 9, lk = l, hq = 4, hkv = 1, d = 64, causal = !odd)
                // MHA prefill with d > 64, windows that start and end inside tiles.
                out += case(s.next(), lq = 40, lk = l, hq = 2, hkv = 2, d = 96,
                    window = if (odd) Window.NONE else Window(maxOf(1, n / 2), 3), causal = odd, topLeft = odd)
                // Few query rows: keys read in place; two sequences, kv_lens every other time.
                out += case(s.next(), lq = 3, lk = l, b = 2, hq = 2, hkv = 2, d = 32, kvLens = if (odd) KvLensMode.RANDOM else KvLensMode.NONE)
                // A bias broadcast over the keys (key stride 0) on full tiles, then a per-key one read every other float;
                // sinks, so that a bias constant along a row is not a shift that softmax cancels.
                out += case(s.next(), lq = 6, lk = l, hq = 2, hkv = 1, d = 32, sinks = true, bias = Broadcast("HQ1"))
                out += case(s.next(), lq = 6, lk = l, hq = 2, hkv = 1, d = 32, bias = Broadcast("BHQK"), layout = Layout.PADDED)
                // Packed keys (d <= 64: a double tile) scored for a last row block of 2 or 3 queries (MHA).
                out += case(s.next(), lq = if (odd) 35 else 34, lk = l, hq = 2, hkv = 2, d = 64)
                // Lq at the boundary: one query tile more or less (MHA), over two KV tiles.
                out += case(s.next(), lq = l, lk = 70, hq = 1, hkv = 1, d = 64, causal = true, topLeft = odd)
            }
            // GQA (group 4): query rows n - 4, n, n + 4 of the KV group.
            if (n % 4 == 0 && n >= 8) {
                for (lq in listOf(n / 4 - 1, n / 4, n / 4 + 1)) {
                    out += case(s.next(), lq = lq, lk = 33, hq = 8, hkv = 2, d = 48, causal = lq % 2 == 0,
                        mask = if (lq % 2 == 1) Broadcast("QK") else null)
                }
            }
        }
        // Windows with a zero side (keys on one side of the diagonal only, or the diagonal alone), causal off so that
        // the window alone bounds each row, over a tile boundary; top-left aligned every other time.
        val n0 = p.kvTiles().first()
        for ((i, w) in listOf(Window(0, -1), Window(-1, 0), Window(0, 0), Window(0, 2), Window(2, 0)).withIndex()) {
            out += case(s.next(), lq = 9, lk = n0 + 1, hq = 4, hkv = 1, d = 64, window = w, topLeft = i % 2 == 1)
            out += case(s.next(), lq = 5, lk = n0 + 2, hq = 2, hkv = 2, d = 32, window = w, topLeft = i % 2 == 0)
        }
        return out
    }

    private fun lengths() = oracle("${PREFIX}lengths",
        "Lk and Lq at every size the backend names (KV/query tiles, packing switch, lanes, pages): n-1, n, n+1, 3n+1; windows with a zero side") { p, s -> lengthCases(p, s) }

    /** Key lengths around and above a split threshold `t`: one split, two, several (at least three). */
    fun splitLengths(t: Int): List<Int> = listOf(t - 1, t, t + 1, 2 * t + 1, 4 * t + 3).filter { it >= 1 }

    /**
     * Decode shapes above the split threshold: batch 1 and few KV heads, so that the backend has too few work items and
     * splits the keys; every split's maximum differs, so an unrescaled merge shows.
     */
    internal fun splitCases(p: PathSizes, s: Seeds): List<KernelCase> {
        val out = ArrayList<KernelCase>()
        val qt = p.queryRows().max()
        for (t in p.splitKeys()) {
            for (l in splitLengths(t)) {
                out += case(s.next(), lq = 1, lk = l, d = 64)
                out += case(s.next(), lq = 1, lk = l, hq = 4, hkv = 1, d = 128, scoreMagnitude = 5.0)
                out += case(s.next(), lq = 4, lk = l, hq = 2, hkv = 2, d = 80, causal = true)
                // A window crossing split boundaries; then one that ends before the last key.
                out += case(s.next(), lq = 1, lk = l, hq = 4, hkv = 2, d = 64, window = Window(maxOf(1, 3 * l / 4), -1))
                out += case(s.next(), lq = 3, lk = l, hq = 2, hkv = 1, d = 64, window = Window(t / 2 + 1, 1), causal = false)
                // Sequences of other lengths (one of them empty): the shorter ones leave splits empty.
                out += case(s.next(), lq = 1, lk = l, b = 3, hq = 2, hkv = 1, d = 64,
                    kvLens = if (l % 2 == 0) KvLensMode.WITH_ZERO else KvLensMode.RANDOM)
                out += case(s.next(), lq = 2, lk = l, hq = 2, hkv = 1, d = 64, sinks = true, softcap = 20.0, alibi = true)
                // Top-left causal: every split but the first sees no key; a sparse mask leaves some splits empty too.
                out += case(s.next(), lq = 2, lk = l, hq = 1, hkv = 1, d = 64, causal = true, topLeft = true)
                out += case(s.next(), lq = 1, lk = l, hq = 2, hkv = 1, d = 64, mask = Broadcast("K"), maskFill = MaskFill.SPARSE,
                    bias = Broadcast("HQK"), layout = Layout.BLHD_VIEW)
                // More queries than one query tile with few work items: split-KV and several query tiles in one call
                // (MHA, then a KV group of 4), so that the merge must find each tile's partials.
                out += case(s.next(), lq = qt + 1, lk = l, hq = 1, hkv = 1, d = 32, causal = l % 2 == 1)
                out += case(s.next(), lq = maxOf(2, qt / 4 + 1), lk = l, hq = 4, hkv = 1, d = 32, window = Window(t / 2 + 1, 2))
            }
        }
        return out
    }

    private fun splitKv() = oracle("${PREFIX}split-kv",
        "decode above the split threshold (batch 1, few KV heads): split-KV with causal, windows, kv_lens, sinks, masks; a prefill of more than one query tile split too") { p, s -> splitCases(p, s) }

    /** Head dims at the vector widths ±1, 255 and 256 with long sequences, and the absorbed MLA decode shape. */
    internal fun headDimCases(p: PathSizes, s: Seeds): List<KernelCase> {
        val out = ArrayList<KernelCase>()
        for (w in p.lanes()) {
            for (d in listOf(w - 1, w, w + 1).filter { it >= 1 }) {
                out += case(s.next(), lq = 65, lk = 65, hq = 2, hkv = 2, d = d, causal = true)
                out += case(s.next(), lq = 1, lk = 130, hq = 4, hkv = 1, d = d)
            }
            for (dv in listOf(w - 1, w + 1, 4 * w + 1).filter { it >= 1 }) {
                out += case(s.next(), lq = 33, lk = 70, hq = 2, hkv = 1, d = w, dv = dv)
            }
        }
        val t = p.splitKeys().first()
        for (d in listOf(255, 256)) {
            out += case(s.next(), lq = 64, lk = 129, hq = 1, hkv = 1, d = d, causal = true)
            out += case(s.next(), lq = 65, lk = 65, hq = 4, hkv = 2, d = d, dv = 511 - d)
            out += case(s.next(), lq = 1, lk = t + 1, hq = 2, hkv = 1, d = d)
        }
        // DeepSeek's absorbed MLA decode: 576 = 512 latent + 64 rope for QK, the 512 latent as V, one KV head.
        for (l in listOf(t - 1, t + 1, 2 * t + 1)) out += case(s.next(), lq = 1, lk = l, hq = 16, hkv = 1, d = 576, dv = 512)
        out += case(s.next(), lq = 4, lk = t + 1, hq = 16, hkv = 1, d = 576, dv = 512, causal = true)
        return out
    }

    private fun headDims() = oracle("${PREFIX}head-dims",
        "head dims at the vector widths +-1, 255 and 256 with Lq, Lk >= 64, and absorbed MLA decode (576/512, one KV head)") { p, s -> headDimCases(p, s) }

    /** A decode case and its cache: the backend's own ([page] null) or a PagedKvCache of [page] tokens per page. */
    internal data class CacheCase(val case: KernelCase, val page: Int?, val thenRun: Boolean = false) {
        override fun toString(): String = "$case, " + (page?.let { "PagedKvCache page=$it" } ?: "the backend's newKvCache") +
            (if (thenRun) ", then run() of the same inputs on the same plan" else "")
    }

    internal fun cacheCases(p: PathSizes, s: Seeds): List<CacheCase> {
        val out = ArrayList<CacheCase>()
        for (page in p.pageSizes()) {
            for (l in around(page)) out += CacheCase(case(s.next(), lq = 1, lk = l, hq = 4, hkv = 1, d = 64), null)
            for (size in listOf(page - 1, page, page + 1).filter { it >= 1 }) {
                out += CacheCase(case(s.next(), lq = 1, lk = 3 * page + 1, hq = 2, hkv = 1, d = 64), size)
                out += CacheCase(case(s.next(), lq = 2, lk = 3 * page + 1, b = 2, hq = 2, hkv = 2, d = 32, causal = true), size)
            }
            // A chunk of 9 queries of a KV group of 4 (a prefill, keys packed) over pages one token longer than the size:
            // the packing steps across page and tile boundaries that do not line up.
            out += CacheCase(case(s.next(), lq = 9, lk = 3 * page + 1, hq = 4, hkv = 1, d = 96, causal = true), page + 1)
        }
        // decode() over the backend's cache, then run() of the same inputs on the same plan: a chunk of 9 queries of a
        // KV group of 4 is a prefill from dense K/V (packed keys, a longer KV tile for d <= 64) but not over a cache,
        // so the plan's second call needs other scratch than its first at the same number of query rows.
        val t0 = p.kvTiles().first()
        for (d in listOf(64, 96)) out += CacheCase(case(s.next(), lq = 9, lk = 2 * t0 + 5, hq = 4, hkv = 1, d = d, causal = true), null, thenRun = true)
        for (t in p.splitKeys()) {
            for (l in listOf(t - 1, t + 1, 2 * t + 1)) {
                out += CacheCase(case(s.next(), lq = 1, lk = l, hq = 4, hkv = 1, d = 128), null)
                out += CacheCase(case(s.next(), lq = 2, lk = l, b = 2, hq = 2, hkv = 2, d = 64, causal = true), null)
                out += CacheCase(case(s.next(), lq = 1, lk = l, hq = 2, hkv = 1, d = 64), p.pageSizes().first())
            }
        }
        return out
    }

    private fun decodeCaches(): TckCheck {
        val name = "${PREFIX}decode-cache"
        return TckCheck(name, "AttentionPlan.decode over the backend's cache and PagedKvCache at page sizes +-1 and above the split threshold; decode then run() on one plan") { backend, config ->
            val cases = cacheCases(sizesOf(backend), Seeds(config, name))
            PropertyRunner.runCases(name, cases, config, simpler = { c -> simpler(c.case).map { CacheCase(it, c.page, c.thenRun) } }) {
                KernelChecks.decodeCase(backend, it.case, it.page != null, it.page, thenRun = it.thenRun)
            }
        }
    }

    /** Reduced K/V storage types, one per case in turn. */
    private val REDUCED = listOf(DType.FLOAT16, DType.BFLOAT16, DType.INT8)

    /**
     * float16, bfloat16 and int8 K/V at the path sizes: prefill over several KV tiles with a packed KV group (keys
     * converted as they are packed), decode over a cache of that type above the split threshold and across pages.
     * Judged against the float64 reference of the stored values, like `meta/reduced-storage-equals-float32`.
     */
    internal data class ReducedCase(val case: KernelCase, val decode: Boolean, val page: Int? = null) {
        override fun toString(): String = "$case, " + when {
            !decode -> "run()"
            page != null -> "decode over a ${case.kvDtype} PagedKvCache page=$page"
            else -> "decode over the backend's ${case.kvDtype} newKvCache"
        }
    }

    internal fun reducedCases(p: PathSizes, s: Seeds): List<ReducedCase> {
        val out = ArrayList<ReducedCase>()
        var i = 0
        fun next() = REDUCED[i++ % REDUCED.size]
        for (t in p.kvTiles()) {
            for (dt in REDUCED) out += ReducedCase(case(s.next(), lq = 9, lk = 3 * t + 1, hq = 4, hkv = 1, d = 64, causal = true, kvDtype = dt), decode = false)
        }
        val t0 = p.kvTiles().first()
        // Views whose rows start off the row pitch or are Dv + 1 apart: int8 rows then straddle two scales.
        for (dt in REDUCED) {
            // (two sequences and two KV heads: no axis of size 1, so every stride must pass readableInPlace's check)
            out += ReducedCase(case(s.next(), lq = 3, lk = t0 + 1, b = 2, hq = 4, hkv = 2, d = 64, dv = 48, kvDtype = dt,
                layout = Layout.MISALIGNED), decode = false)
        }
        // Several queries with a window over a reduced cache: the rows of one block start at different keys of a tile.
        for (dt in REDUCED) {
            out += ReducedCase(case(s.next(), lq = 3, lk = 2 * t0 + 3, hq = 4, hkv = 1, d = 64, window = Window(t0 / 2 + 1, 0), kvDtype = dt), decode = true)
        }
        for (t in p.splitKeys()) {
            for (l in listOf(t + 1, 2 * t + 1)) {
                out += ReducedCase(case(s.next(), lq = 1, lk = l, hq = 4, hkv = 1, d = 64, kvDtype = next()), decode = true)
                out += ReducedCase(case(s.next(), lq = 1, lk = l, hq = 2, hkv = 1, d = 64, kvDtype = next()), decode = true, page = p.pageSizes().first())
            }
        }
        for (page in p.pageSizes()) {
            out += ReducedCase(case(s.next(), lq = 2, lk = 3 * page + 1, b = 2, hq = 2, hkv = 2, d = 32, causal = true, kvDtype = next()), decode = true, page = page + 1)
        }
        // Head dims that are no multiple of the vector width (and one below it), odd key counts: the scalar tails of the
        // converting dot products (in a key pair and in the last, unpaired key), in 4-row blocks and a lone row.
        p.lanes().firstOrNull { it >= 4 }?.let { lanes ->
            for (dt in REDUCED) {
                out += ReducedCase(case(s.next(), lq = 5, lk = t0 + 3, hq = 2, hkv = 1, d = 2 * lanes + 3, kvDtype = dt), decode = false)
                out += ReducedCase(case(s.next(), lq = 1, lk = 2 * t0 + 1, hq = 4, hkv = 1, d = lanes + 1, dv = lanes - 1, kvDtype = dt), decode = true)
                out += ReducedCase(case(s.next(), lq = 4, lk = t0 + 1, hq = 1, hkv = 1, d = lanes - 3, kvDtype = dt), decode = false)
                // Decode of a KV group of 3 (a block of 3 rows) over the backend's cache, the last tile ending 3L + 2
                // keys in: two-vector, one-vector and scalar steps of the transposed converting scores.
                out += ReducedCase(case(s.next(), lq = 1, lk = t0 + 3 * lanes + 2, hq = 3, hkv = 1, d = lanes + 5, kvDtype = dt), decode = true)
                // A last block of 2, then 3 query rows (MHA), KV heads interleaved ([B, L, H, D] views: an int8 key row's
                // scale is every Hkv-th one).
                for (lq in listOf(6, 7)) {
                    out += ReducedCase(case(s.next(), lq = lq, lk = t0 + 3, hq = 2, hkv = 2, d = lanes + 5, kvDtype = dt,
                        layout = Layout.BLHD_VIEW), decode = false)
                }
                // V rows of 3L + 1 over [B, L, H, D] views with 2 KV heads: the converting P V takes its two-vector step
                // (an int8 value row's scale is every second one), then a one-vector step at 2L, then the scalar tail.
                out += ReducedCase(case(s.next(), lq = 5, lk = t0 + 3, hq = 2, hkv = 2, d = 3 * lanes + 1, kvDtype = dt,
                    layout = Layout.BLHD_VIEW), decode = false)
            }
        }
        return out
    }

    private fun reducedStorage(): TckCheck {
        val name = "${PREFIX}reduced-storage"
        return TckCheck(name, "float16/bfloat16/int8 K/V at the path sizes: prefill over several KV tiles (packed keys) and over misaligned views, decode over reduced caches above the split threshold, across pages and with a window over several queries") { backend, config ->
            PropertyRunner.runCases(name, reducedCases(sizesOf(backend), Seeds(config, name)), config,
                simpler = { c -> simpler(c.case).map { c.copy(case = it) } }) {
                StorageChecks.declined(backend, it.case.kvDtype)
                    ?: if (it.decode) KernelChecks.decodeCase(backend, it.case, it.page != null, it.page) else KernelChecks.judge(backend, it.case)
            }
        }
    }

    /** Smaller variants of a failing case, most aggressive first: options off, one sequence, fewer heads, shorter. */
    internal fun simpler(c: KernelCase): List<KernelCase> = listOf(
        c.copy(causal = false), c.copy(window = Window.NONE), c.copy(softcap = 0.0), c.copy(bias = null), c.copy(mask = null),
        c.copy(alibi = false), c.copy(sinks = false), c.copy(kvLens = KvLensMode.NONE), c.copy(layout = Layout.CONTIGUOUS),
        c.copy(scoreMagnitude = 1.0), c.copy(alignment = Alignment.BOTTOM_RIGHT), c.copy(batch = 1),
        c.copy(qHeads = c.kvHeads), c.copy(qHeads = c.qHeads / c.kvHeads, kvHeads = 1), c.copy(qHeads = 1, kvHeads = 1),
        c.copy(qLen = 1), c.copy(qLen = c.qLen / 2), c.copy(kvLen = c.kvLen / 2),
        c.copy(headDim = c.headDim / 2, vHeadDim = if (c.vHeadDim == c.headDim) c.headDim / 2 else c.vHeadDim),
        c.copy(qLen = c.qLen - 1), c.copy(kvLen = c.kvLen - 1),   // single steps last: they may take many
    ).filter { it != c && it.qLen >= 1 && it.kvLen >= 1 && it.headDim >= 1 && it.qHeads >= 1 }
}
