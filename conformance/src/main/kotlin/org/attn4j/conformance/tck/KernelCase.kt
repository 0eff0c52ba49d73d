package org.attn4j.conformance.tck

import org.attn4j.api.Alignment
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.IntTensor
import org.attn4j.api.Quantization
import org.attn4j.api.Tensor
import org.attn4j.api.Window
import java.util.SplittableRandom
import kotlin.math.sqrt

/**
 * Which axes of the score tensor `[B, Hq, Lq, Lk]` a bias or mask spans, NumPy style (trailing alignment).
 * Written with one letter per axis of the array: `B`, `H`, `Q`, `K` for a full axis, `1` for a size-1 axis;
 * `"1HQK"` is `[1, Hq, Lq, Lk]`, `"K"` is `[Lk]`, `"H1K"` is `[Hq, 1, Lk]`.
 */
data class Broadcast(val axes: String) {
    init {
        require(axes.length in 1..4) { "1 to 4 axes" }
        val names = "BHQK".substring(4 - axes.length)
        require(axes.indices.all { axes[it] == '1' || axes[it] == names[it] }) { "axis letters must be in B H Q K order: $axes" }
    }

    fun shape(batch: Int, heads: Int, qLen: Int, kvLen: Int): IntArray = IntArray(axes.length) {
        when (axes[it]) {
            'B' -> batch
            'H' -> heads
            'Q' -> qLen
            'K' -> kvLen
            else -> 1
        }
    }

    /** Whether the array has a full query axis (each query row has its own values). */
    val perQuery: Boolean get() = 'Q' in axes

    /** Whether the array has a full key axis. */
    val perKey: Boolean get() = 'K' in axes

    override fun toString(): String =
        axes.map { when (it) { 'B' -> "B"; 'H' -> "H"; 'Q' -> "Lq"; 'K' -> "Lk"; else -> "1" } }.joinToString(",", "[", "]")

    companion object {
        /** Every broadcast pattern of rank 1..4: 2 + 4 + 8 + 16 = 30, lower ranks first. */
        val ALL: List<Broadcast> = (1..4).flatMap { rank ->
            val names = "BHQK".substring(4 - rank)
            (0 until (1 shl rank))
                .map { bits -> Broadcast(String(CharArray(rank) { if ((bits shr (rank - 1 - it)) and 1 == 1) names[it] else '1' })) }
                // Within a rank: patterns with a key axis first (the common ones), then by how many axes are full.
                .sortedWith(compareBy<Broadcast>({ !it.perKey }, { p -> -p.axes.count { it != '1' } }))
        }
    }
}

/** How a bool mask is filled. */
enum class MaskFill(val density: Double, val deadRows: Double) {
    /** 80 % of entries true */
    DENSE(0.8, 0.0),
    /** half */
    HALF(0.5, 0.0),
    /** 15 %: many rows end up with no visible key */
    SPARSE(0.15, 0.0),
    /** 30 % of the mask's rows entirely false, the others 80 % true */
    DEAD_ROWS(0.8, 0.3),
    /** every entry false: every row is fully masked */
    ALL_FALSE(0.0, 1.0),
}

/** How `kv_lens` is given. */
enum class KvLensMode { NONE, FULL, RANDOM, WITH_ZERO }

/** How Q, K and V are laid out in memory (the values are the same, except for int8 [MISALIGNED] views). */
enum class Layout {
    /** contiguous float32 `[B, H, L, D]` */
    CONTIGUOUS,
    /** a `[B, L, H, D]` buffer seen through `permute(0, 2, 1, 3)` */
    BLHD_VIEW,
    /** float64 tensors (float32-representable values) */
    FLOAT64,
    /**
     * float32 with an offset, padded rows and every other element of a row (last-axis stride 2): not contiguous.
     * The bias is laid out the same way (every other element of its last axis, from an offset).
     */
    PADDED,
    /**
     * views into a larger buffer of the stored type: Q and K start at an offset that is not a multiple of the row width,
     * V's rows are `Dv + 1` apart. An int8 buffer keeps one scale per `width` elements, so such rows straddle two scale
     * rows (whose scales differ): a backend that folds one scale per row must convert these views first.
     */
    MISALIGNED,
}

/**
 * One generated kernel call: sizes, spec options, which optional inputs exist, and how their values are drawn.
 * The tensors themselves are derived deterministically from [dataSeed] ([inputs]), so a case prints in one line
 * and replays exactly.
 *
 * Values are float32-representable, so a float64 reference sees exactly what a float32 backend sees.
 * Q and K are scaled so that typical scores `scale * q.k` have magnitude [scoreMagnitude].
 */
data class KernelCase(
    val batch: Int,
    val qHeads: Int,
    val kvHeads: Int,
    val headDim: Int,
    val vHeadDim: Int,
    val qLen: Int,
    val kvLen: Int,
    val scale: Double?,
    val causal: Boolean,
    val alignment: Alignment,
    val window: Window,
    val softcap: Double,
    val bias: Broadcast?,
    val biasAmplitude: Double,
    val mask: Broadcast?,
    val maskFill: MaskFill,
    val alibi: Boolean,
    val sinks: Boolean,
    val kvLens: KvLensMode,
    val scoreMagnitude: Double,
    val valueMagnitude: Double,
    val layout: Layout,
    val dataSeed: Long,
    /** How K and V are stored: float32, or float16/bfloat16/int8 holding the rounded values ([org.attn4j.api.Quantization]). */
    val kvDtype: DType = DType.FLOAT32,
    /** How Q is stored: float32, float16 or bfloat16. */
    val qDtype: DType = DType.FLOAT32,
) {
    init {
        // A reduced tensor has no float64 form and no NaN to pad with: contiguous, the [B, L, H, D] view or misaligned.
        require((!kvDtype.isReduced() && !qDtype.isReduced()) || layout == Layout.CONTIGUOUS || layout == Layout.BLHD_VIEW ||
            layout == Layout.MISALIGNED) {
            "reduced storage ($kvDtype k/v, $qDtype q) with layout $layout"
        }
    }

    val spec: AttentionSpec by lazy {
        val b = AttentionSpec.builder(qHeads, kvHeads, headDim).vHeadDim(vHeadDim).causal(causal).alignment(alignment)
            .window(window).softcap(softcap)
        if (scale != null) b.scale(scale)
        b.build()
    }

    /** Multiply-adds of the naive evaluation: what the cost cap bounds. */
    val cost: Long get() = cost(batch, qHeads, qLen, kvLen, headDim, vHeadDim)

    /** The tensors of this case (built once, then shared: checks must not write to them). */
    val inputs: AttentionInputs by lazy { materialize() }

    val problem: AttentionProblem get() = inputs.validate(spec)

    /** A copy with other data (same shapes and options). */
    fun withSeed(seed: Long): KernelCase = copy(dataSeed = seed)

    override fun toString(): String = buildString {
        append("B=$batch Hq=$qHeads Hkv=$kvHeads D=$headDim")
        if (vHeadDim != headDim) append(" Dv=$vHeadDim")
        append(" Lq=$qLen Lk=$kvLen")
        if (scale != null) append(" scale=$scale")
        if (causal) append(" causal")
        if (causal || !window.isNone) append(if (alignment == Alignment.TOP_LEFT) " top-left" else " bottom-right")
        if (!window.isNone) append(" window=[${window.left()},${window.right()}]")
        if (softcap > 0) append(" softcap=$softcap")
        if (bias != null) append(" bias$bias~$biasAmplitude")
        if (mask != null) append(" mask$mask:$maskFill")
        if (alibi) append(" alibi")
        if (sinks) append(" sinks")
        if (kvLens != KvLensMode.NONE) append(" kvLens=$kvLens${inputs.kvLens()?.toIntArray()?.contentToString() ?: ""}")
        append(" |s|~$scoreMagnitude")
        if (valueMagnitude != 1.0) append(" |v|~$valueMagnitude")
        if (layout != Layout.CONTIGUOUS) append(" layout=$layout")
        if (kvDtype != DType.FLOAT32) append(" k/v=$kvDtype")
        if (qDtype != DType.FLOAT32) append(" q=$qDtype")
        append(" data=$dataSeed")
    }

    private fun materialize(): AttentionInputs {
        val rnd = SplittableRandom(dataSeed)
        // Q.K of two U(-a, a) vectors has standard deviation a^2 sqrt(D) / 3: pick a so that scale * that = |s|.
        val amp = sqrt(scoreMagnitude / (spec.effectiveScale() * sqrt(headDim.toDouble()) / 3.0))
        val q = uniform(rnd, intArrayOf(batch, qHeads, qLen, headDim), amp)
        val k = uniform(rnd, intArrayOf(batch, kvHeads, kvLen, headDim), amp)
        val v = uniform(rnd, intArrayOf(batch, kvHeads, kvLen, vHeadDim), valueMagnitude)
        var inputs = AttentionInputs.of(layOut(stored(q, qDtype)), layOut(stored(k, kvDtype)), layOut(stored(v, kvDtype), skew = true))
        if (bias != null) {
            val shape = bias.shape(batch, qHeads, qLen, kvLen)
            val b = FloatTensor.of(uniformArray(rnd, Tensor.elementCount(*shape), biasAmplitude), *shape)
            inputs = inputs.withBias(if (layout == Layout.PADDED) everyOther(b, rowPadding = 0, offset = 3) else b)
        }
        if (mask != null) inputs = inputs.withMask(maskTensor(rnd, mask.shape(batch, qHeads, qLen, kvLen), maskFill))
        if (alibi) {
            // The ALiBi paper's geometric slopes 2^(-8 (h+1) / H).
            val slopes = FloatArray(qHeads) { Math.pow(2.0, -8.0 * (it + 1) / qHeads).toFloat() }
            inputs = inputs.withAlibiSlopes(FloatTensor.of(slopes, qHeads))
        }
        if (sinks) {
            inputs = inputs.withSinks(FloatTensor.of(uniformArray(rnd, qHeads, 1.5 * maxOf(1.0, scoreMagnitude)), qHeads))
        }
        if (kvLens != KvLensMode.NONE) {
            val lens = IntArray(batch) { if (kvLens == KvLensMode.FULL) kvLen else rnd.nextInt(kvLen + 1) }
            if (kvLens == KvLensMode.WITH_ZERO) lens[rnd.nextInt(batch)] = 0
            inputs = inputs.withKvLens(IntTensor.of(lens, batch))
        }
        return inputs
    }

    /**
     * This case's inputs with Q, K and V widened to float32, holding the stored values (float16/bfloat16 widen exactly;
     * an int8 element `q * scale` is rounded to float32 once); the other inputs shared.
     */
    val float32Inputs: AttentionInputs by lazy {
        val x = inputs
        AttentionInputs(FloatTensor.copyOf(x.q()), FloatTensor.copyOf(x.k()), FloatTensor.copyOf(x.v()), x.bias(), x.mask(),
            x.alibiSlopes(), x.sinks(), x.kvLens())
    }

    /** [t] stored as [dtype]: rounded (float16, bfloat16) or quantized per row (int8) by the one rule of `Quantization`. */
    private fun stored(t: FloatTensor, dtype: DType): Tensor = when (dtype) {
        DType.FLOAT32 -> t
        DType.FLOAT16, DType.BFLOAT16 -> HalfTensor.round(dtype, t)
        DType.INT8 -> Int8Tensor.quantize(t)
        else -> error("not a storage type of q/k/v: $dtype")
    }

    private fun layOut(t: Tensor, skew: Boolean = false): Tensor = when (layout) {
        Layout.CONTIGUOUS -> t
        Layout.FLOAT64 -> DoubleTensor.copyOf(t)
        Layout.BLHD_VIEW -> {
            // Copy into a [B, L, H, D] buffer (of the same dtype, int8 scales included), then view it as [B, H, L, D].
            val s = t.shape()
            val blhd = org.attn4j.api.Tensors.zeros(t.dtype(), s[0], s[2], s[1], s[3])
            org.attn4j.api.Tensors.copyInto(t, blhd.permute(0, 2, 1, 3))
            blhd.permute(0, 2, 1, 3)
        }
        // Rows of D values two apart, padded to 2D + 3, from offset 5: strides are not C order and a row is not a run of floats.
        Layout.PADDED -> everyOther(t, rowPadding = 3, offset = 5)
        Layout.MISALIGNED -> misaligned(t, skew)
    }

    /**
     * [t] (float32, any rank) as a view into a NaN-filled buffer: every other element of a row (last-axis stride 2),
     * rows `2W + rowPadding` apart, the view starting at [offset]. A backend that reads a row as a run of floats, or
     * reads the padding, reads NaN.
     */
    private fun everyOther(t: Tensor, rowPadding: Int, offset: Int): FloatTensor {
        val shape = t.shape()
        val strides = IntArray(shape.size)
        var stride = 2 * shape.last() + rowPadding
        strides[shape.size - 1] = 2
        for (axis in shape.size - 2 downTo 0) {
            strides[axis] = stride
            stride *= shape[axis]
        }
        val view = FloatTensor(FloatArray(offset + stride) { Float.NaN }, shape, strides, offset)
        org.attn4j.api.Tensors.copyInto(t, view)
        return view
    }

    /**
     * [t] (`[B, H, L, W]`, contiguous as [stored] made it) as a view into a buffer of its dtype: rows `W + 1` apart when
     * [skew], else contiguous from offset 3 (1 when `W < 4`). Elements outside the view are NaN (int8: 127 with a
     * scale), so reading them shows. An int8 element's value is its byte times the scale of the buffer row it falls in;
     * the buffer rows' scales vary (t's row scale times 2/3, 1 or 4/3), so a view row mixes two scales.
     */
    private fun misaligned(t: Tensor, skew: Boolean): Tensor {
        val s = t.shape()
        val w = s[3]
        val rowStride = if (skew) w + 1 else w
        val offset = if (skew) 0 else if (w >= 4) 3 else 1
        val strides = intArrayOf(s[1] * s[2] * rowStride, s[2] * rowStride, rowStride, 1)
        val rows = s[0] * s[1] * s[2]
        val pitch = maxOf(w, 1)
        val bufferRows = (offset + rows * rowStride) / pitch + 2
        val length = bufferRows * pitch
        return when (t) {
            is FloatTensor -> FloatTensor(FloatArray(length) { Float.NaN }, s, strides, offset).also { org.attn4j.api.Tensors.copyInto(t, it) }
            is HalfTensor -> {
                val nan = if (t.dtype() == DType.FLOAT16) Quantization.toFloat16(Float.NaN) else Quantization.toBFloat16(Float.NaN)
                HalfTensor(t.dtype(), ShortArray(length) { nan }, s, strides, offset).also { org.attn4j.api.Tensors.copyInto(t, it) }
            }
            is Int8Tensor -> {
                require(t.isContiguous && t.offset() == 0) { "misaligned: int8 input must be contiguous" }
                val bytes = ByteArray(length) { 127 }
                val src = t.data()
                for (r in 0 until rows) System.arraycopy(src, r * w, bytes, offset + r * rowStride, w)
                val scales = FloatArray(bufferRows) { j -> if (rows > 0) t.scales()[minOf(j, rows - 1)] else 1f }
                for (j in scales.indices) scales[j] *= (2 + j % 3) / 3f
                Int8Tensor(bytes, scales, pitch, s, strides, offset)
            }
            else -> error("misaligned: no view of ${t.dtype()}")
        }
    }

    companion object {
        fun cost(batch: Int, heads: Int, qLen: Int, kvLen: Int, d: Int, dv: Int): Long =
            batch.toLong() * heads * maxOf(qLen, 1) * maxOf(kvLen, 1) * (d + dv)

        /** U(-amp, amp) rounded to float32. */
        fun uniformArray(rnd: SplittableRandom, n: Int, amp: Double): FloatArray =
            FloatArray(n) { ((rnd.nextDouble() * 2 - 1) * amp).toFloat() }

        fun uniform(rnd: SplittableRandom, shape: IntArray, amp: Double): FloatTensor =
            FloatTensor.of(uniformArray(rnd, Tensor.elementCount(*shape), amp), *shape)

        fun maskTensor(rnd: SplittableRandom, shape: IntArray, fill: MaskFill): BoolTensor {
            val n = Tensor.elementCount(*shape)
            val rowLen = shape.last()
            val data = BooleanArray(n)
            var row = 0
            while (row * rowLen < n) {
                val dead = rnd.nextDouble() < fill.deadRows
                for (j in 0 until rowLen) data[row * rowLen + j] = !dead && rnd.nextDouble() < fill.density
                row++
            }
            return BoolTensor.of(data, *shape)
        }
    }
}
