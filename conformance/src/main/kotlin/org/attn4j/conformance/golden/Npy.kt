package org.attn4j.conformance.golden

import org.attn4j.api.BoolTensor
import org.attn4j.api.DType
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.HalfTensor
import org.attn4j.api.Int8Tensor
import org.attn4j.api.IntTensor
import org.attn4j.api.Tensor
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.StandardOpenOption

/**
 * The element types golden cases may hold (FORMAT.md "Layout"); everything else is rejected. The last three are the
 * reduced-precision inputs of kernel cases: `<f2` float16, `<u2` bfloat16 bit patterns (NumPy has no bfloat16),
 * `|i1` int8 (its scale lives in another file of the case).
 */
enum class NpyDtype(val descr: String, val itemSize: Int) {
    F4("<f4", 4), F8("<f8", 8), B1("|b1", 1), I4("<i4", 4), I8("<i8", 8), F2("<f2", 2), U2("<u2", 2), I1("|i1", 1);

    companion object {
        @JvmStatic
        fun ofDescr(descr: String): NpyDtype? = entries.firstOrNull { it.descr == descr }

        /**
         * The natural dtype of a tensor: float32 -> `<f4`, float64 -> `<f8`, bool -> `|b1`, int32 -> `<i4`,
         * float16 -> `<f2`, bfloat16 -> `<u2` (its bits), int8 -> `|i1` (its bytes; the scales are not in it).
         */
        @JvmStatic
        fun of(tensor: Tensor): NpyDtype = when (tensor) {
            is FloatTensor -> F4
            is DoubleTensor -> F8
            is BoolTensor -> B1
            is IntTensor -> I4
            is HalfTensor -> if (tensor.dtype() == DType.BFLOAT16) U2 else F2
            is Int8Tensor -> I1
        }
    }
}

/**
 * The parsed header of a `.npy` file.
 *
 * @property version    1, 2 or 3 (the minor version is always 0)
 * @property shape      C-order shape; empty for a scalar
 * @property dataOffset where the data starts (magic + length field + header)
 */
class NpyHeader(val version: Int, val dtype: NpyDtype, shape: IntArray, val dataOffset: Long) {
    private val shapeCopy = shape.clone()
    val shape: IntArray get() = shapeCopy.clone()

    /** Elements the shape holds (fits in an int: checked when parsed). */
    val elementCount: Long get() = shapeCopy.fold(1L) { n, s -> n * s }

    val dataBytes: Long get() = elementCount * dtype.itemSize

    override fun toString(): String = "NpyHeader(v$version.0, ${dtype.descr}, ${shapeCopy.contentToString()})"
}

/**
 * A strict reader and a writer for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0), limited to the dtypes
 * of [NpyDtype], C order, little-endian. The reader checks the header completely and compares the size the
 * shape needs with the size of the file *before* allocating anything, so a corrupt header cannot exhaust
 * memory. Every problem is a [GoldenFormatException] naming the file.
 *
 * ```
 * val q = Npy.read(Path.of("case/q.npy"))          // FloatTensor for <f4, DoubleTensor for <f8, ...
 * Npy.write(Path.of("out/q.npy"), q)               // byte-identical to numpy.save for the same array
 * ```
 */
object Npy {
    private val MAGIC = byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(),
        'P'.code.toByte(), 'Y'.code.toByte())

    /** numpy aligns the data start to 64 bytes (padding spaces before the header's final newline). */
    private const val ALIGN = 64

    /** Far above any header numpy writes for our dtypes (~120 bytes); guards against absurd allocations. */
    private const val MAX_HEADER = 1 shl 20

    // ---------------------------------------------------------------- reading

    /**
     * Reads a whole `.npy` file: [FloatTensor] for `<f4`, [DoubleTensor] for `<f8`, [BoolTensor] for `|b1`,
     * [IntTensor] for `<i4` and `<i8` (an `<i8` value outside the int range is an error), [HalfTensor] FLOAT16 for
     * `<f2`, [HalfTensor] BFLOAT16 for `<u2` (the only meaning FORMAT.md gives it: the case must name it in its
     * `"bfloat16"` list, which [GoldenCase.read] checks), and for `|i1` an [Int8Tensor] of the raw values with scale
     * 1 on every row (the case's `k_scale`/`v_scale` file supplies the real ones). Only a regular file is read (a FIFO
     * would block), and only when its data fits [GoldenLimits.maxTensorBytes] of [limits].
     */
    @JvmStatic
    @JvmOverloads
    fun read(path: Path, limits: GoldenLimits = GoldenLimits.fromSystemProperties()): Tensor =
        openChannel(path).use { ch -> read(ChannelSource(ch), path, limits) }

    /** Reads `.npy` bytes held in memory; [name] is used in error messages. */
    @JvmStatic
    @JvmOverloads
    fun read(bytes: ByteArray, name: Path?, limits: GoldenLimits = GoldenLimits.fromSystemProperties()): Tensor =
        read(ArraySource(bytes), name, limits)

    /** Reads and checks only the header (also against the file size and [limits]). */
    @JvmStatic
    @JvmOverloads
    fun readHeader(path: Path, limits: GoldenLimits = GoldenLimits.fromSystemProperties()): NpyHeader =
        openChannel(path).use { ch -> readHeader(ChannelSource(ch), path, limits) }

    private fun openChannel(path: Path): FileChannel {
        GoldenFiles.requireRegularFile(path) // before opening: opening a FIFO for reading blocks
        return try {
            FileChannel.open(path, StandardOpenOption.READ)
        } catch (e: NoSuchFileException) {
            throw GoldenFormatException(path, "file not found", e)
        } catch (e: IOException) {
            throw GoldenFormatException(path, "cannot open: $e", e)
        }
    }

    private fun read(src: Source, name: Path?, limits: GoldenLimits): Tensor {
        val h = readHeader(src, name, limits)
        val n = h.elementCount.toInt() // bounded by Tensor.MAX_ELEMENTS in readHeader
        val shape = h.shape
        return when (h.dtype) {
            NpyDtype.F4 -> {
                val out = FloatArray(n)
                readData(src, h, name) { buf, at, count -> buf.asFloatBuffer().get(out, at, count) }
                FloatTensor.of(out, *shape)
            }
            NpyDtype.F8 -> {
                val out = DoubleArray(n)
                readData(src, h, name) { buf, at, count -> buf.asDoubleBuffer().get(out, at, count) }
                DoubleTensor.of(out, *shape)
            }
            NpyDtype.I4 -> {
                val out = IntArray(n)
                readData(src, h, name) { buf, at, count -> buf.asIntBuffer().get(out, at, count) }
                IntTensor.of(out, *shape)
            }
            NpyDtype.I8 -> {
                val out = IntArray(n)
                readData(src, h, name) { buf, at, count ->
                    for (i in 0 until count) {
                        val v = buf.getLong(i * 8)
                        if (v < Int.MIN_VALUE || v > Int.MAX_VALUE) {
                            throw GoldenFormatException(name, "<i8 element ${indexOf(at + i, shape)} = $v does not fit in a 32-bit int")
                        }
                        out[at + i] = v.toInt()
                    }
                }
                IntTensor.of(out, *shape)
            }
            NpyDtype.B1 -> {
                val out = BooleanArray(n)
                readData(src, h, name) { buf, at, count ->
                    for (i in 0 until count) {
                        out[at + i] = when (val b = buf.get(i).toInt()) {
                            0 -> false
                            1 -> true
                            else -> throw GoldenFormatException(name,
                                "|b1 element ${indexOf(at + i, shape)} is byte ${b and 0xff}, expected 0 or 1")
                        }
                    }
                }
                BoolTensor.of(out, *shape)
            }
            NpyDtype.F2, NpyDtype.U2 -> {
                val out = ShortArray(n)
                readData(src, h, name) { buf, at, count -> buf.asShortBuffer().get(out, at, count) }
                HalfTensor.of(if (h.dtype == NpyDtype.F2) DType.FLOAT16 else DType.BFLOAT16, out, *shape)
            }
            NpyDtype.I1 -> {
                // Int8Tensor keeps one scale per row of its last axis; a scalar has no such axis.
                if (shape.isEmpty()) throw GoldenFormatException(name, "|i1 (int8) data must have at least one axis, got a scalar")
                val out = ByteArray(n)
                readData(src, h, name) { buf, at, count -> buf.get(out, at, count) }
                val rows = Tensor.elementCount(*shape.copyOf(shape.size - 1)) // also for an empty last axis
                Int8Tensor.of(out, FloatArray(rows) { 1f }, *shape)
            }
        }
    }

    /** Feeds the data to [sink] in chunks of whole elements: (little-endian buffer, first element, element count). */
    private inline fun readData(src: Source, h: NpyHeader, name: Path?, sink: (ByteBuffer, Int, Int) -> Unit) {
        val item = h.dtype.itemSize
        val total = h.elementCount.toInt()
        val perChunk = maxOf(1, (1 shl 20) / item)
        val buf = ByteBuffer.allocate(minOf(total, perChunk) * item).order(ByteOrder.LITTLE_ENDIAN)
        var done = 0
        while (done < total) {
            val count = minOf(perChunk, total - done)
            buf.clear().limit(count * item)
            src.readFully(h.dataOffset + done.toLong() * item, buf, name)
            buf.flip()
            sink(buf.slice().order(ByteOrder.LITTLE_ENDIAN), done, count)
            done += count
        }
    }

    private fun readHeader(src: Source, name: Path?, limits: GoldenLimits): NpyHeader {
        val size = src.size()
        fun fail(problem: String): Nothing = throw GoldenFormatException(name, problem)
        if (size < 10) fail("not a .npy file: $size bytes is shorter than the 10-byte preamble")
        val pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
        pre.limit(minOf(12L, size).toInt())
        src.readFully(0, pre, name)
        val magic = ByteArray(6).also { pre.get(0, it) }
        if (!magic.contentEquals(MAGIC)) fail("bad magic ${hex(magic)}: not a .npy file (expected \\x93NUMPY)")
        val major = pre.get(6).toInt() and 0xff
        val minor = pre.get(7).toInt() and 0xff
        if (major !in 1..3 || minor != 0) fail("unknown .npy format version $major.$minor (supported: 1.0, 2.0, 3.0)")
        val lenBytes = if (major == 1) 2 else 4
        if (size < 8 + lenBytes) fail("truncated: file ends inside the header length field")
        val headerLen: Long = if (major == 1) (pre.getShort(8).toLong() and 0xffff) else (pre.getInt(8).toLong() and 0xffffffffL)
        val dataOffset = 8L + lenBytes + headerLen
        if (dataOffset > size) fail("header length $headerLen runs past the end of the file ($size bytes)")
        if (headerLen > MAX_HEADER) fail("header length $headerLen is implausibly large (limit $MAX_HEADER)")
        val raw = ByteBuffer.allocate(headerLen.toInt())
        src.readFully(8L + lenBytes, raw, name)
        val text = decodeHeader(raw.array(), major, name)
        val dict = try {
            HeaderParser(text).parse()
        } catch (e: HeaderSyntaxException) {
            fail("malformed header (${e.message}): ${SafeText.quote(text.trimEnd())}")
        }
        val keys = dict.keys
        val expectedKeys = setOf("descr", "fortran_order", "shape")
        if (keys != expectedKeys) {
            val missing = expectedKeys - keys
            val extra = keys - expectedKeys
            fail(buildString {
                append("header must have exactly the keys descr, fortran_order, shape")
                if (missing.isNotEmpty()) append("; missing ").append(missing.joinToString())
                if (extra.isNotEmpty()) {
                    append("; unexpected ").append(extra.take(3).joinToString { SafeText.escape(it) })
                    if (extra.size > 3) append(" and ${extra.size - 3} more")
                }
            })
        }
        val descrValue = dict.getValue("descr")
        if (descrValue !is String) fail("descr must be a dtype string; structured dtypes are not supported, got ${shown(descrValue)}")
        val dtype = NpyDtype.ofDescr(descrValue) ?: fail(describeBadDescr(descrValue))
        when (val fo = dict.getValue("fortran_order")) {
            false -> {}
            true -> fail("Fortran order (fortran_order: True) is not supported; save a C-contiguous array")
            else -> fail("fortran_order must be True or False, got ${shown(fo)}")
        }
        val shapeValue = dict.getValue("shape")
        if (shapeValue !is PyTuple) fail("shape must be a tuple of ints, got ${shown(shapeValue)}")
        val dims = shapeValue.items.map { it as? Long ?: fail("shape must be a tuple of ints, got ${shown(shapeValue)}") }
        val shapeText = shown(shapeValue)
        for (d in dims) {
            if (d < 0) fail("negative size in shape $shapeText")
            if (d > Int.MAX_VALUE) fail("size $d in shape $shapeText overflows a 32-bit int")
        }
        // The element count can overflow a long only through absurd shapes; such a file cannot hold its data anyway.
        var count = 1L
        var overflow = false
        for (d in dims) {
            val next = count.toBigInteger() * d.toBigInteger()
            if (next.bitLength() > 62) overflow = true else count = next.toLong()
        }
        if (overflow && dims.none { it == 0L }) fail("shape $shapeText overflows: its element count does not fit in 64 bits")
        if (overflow) count = 0
        val needed = count.toBigInteger() * dtype.itemSize.toBigInteger()
        val held = size - dataOffset
        if (needed > held.toBigInteger()) {
            fail("truncated: shape $shapeText of ${dtype.descr} needs $needed data bytes, the file holds $held")
        }
        if (needed < held.toBigInteger()) {
            fail("${held - needed.toLong()} bytes of trailing data after the ${needed} data bytes of shape $shapeText")
        }
        if (count > Tensor.MAX_ELEMENTS) fail("shape $shapeText has $count elements; a tensor holds at most ${Tensor.MAX_ELEMENTS}")
        if (needed > limits.maxTensorBytes.toBigInteger()) {
            fail("shape $shapeText of ${dtype.descr} holds $needed data bytes, over the limit of ${limits.maxTensorBytes} " +
                "per tensor (raise it with -D${GoldenLimits.MAX_TENSOR_BYTES_PROPERTY}=<bytes>)")
        }
        return NpyHeader(major, dtype, IntArray(dims.size) { dims[it].toInt() }, dataOffset)
    }

    private fun describeBadDescr(d: String): String = when {
        d.startsWith(">") -> "big-endian data (${SafeText.quote(d)}) is not supported (expected little-endian)"
        d == "|O" || d == "O" || d.endsWith("O8") || d.endsWith("O4") -> "object arrays (${SafeText.quote(d)}) are not supported"
        else -> "unsupported dtype ${SafeText.quote(d)} (supported: ${NpyDtype.entries.joinToString(" ") { it.descr }})"
    }

    private fun decodeHeader(raw: ByteArray, major: Int, name: Path?): String {
        // Versions 1.0 and 2.0 are latin1 (any byte decodes); 3.0 is UTF-8 and must be valid.
        if (major < 3) return String(raw, StandardCharsets.ISO_8859_1)
        return try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString()
        } catch (e: CharacterCodingException) {
            throw GoldenFormatException(name, "version 3.0 header is not valid UTF-8", e)
        }
    }

    /** The row-major index of flat element [flat] of [shape], as `[i, j, ...]` (for error messages). */
    internal fun indexOf(flat: Int, shape: IntArray): String {
        val idx = IntArray(shape.size)
        var rest = flat
        for (a in shape.indices.reversed()) {
            idx[a] = rest % shape[a]
            rest /= shape[a]
        }
        return idx.contentToString()
    }

    private fun hex(b: ByteArray) = b.joinToString(" ") { "%02x".format(it) }

    /** A header value as Python writes it, escaped and cut for an error message. */
    private fun shown(v: Any?): String = SafeText.escape(render(v))

    private fun render(v: Any?): String = when (v) {
        is String -> "'$v'"
        is Boolean -> if (v) "True" else "False"
        is PyTuple -> if (v.items.size == 1) "(${render(v.items[0])},)" else v.items.joinToString(", ", "(", ")") { render(it) }
        is List<*> -> v.joinToString(", ", "[", "]") { render(it) }
        is Map<*, *> -> v.entries.joinToString(", ", "{", "}") { "${render(it.key)}: ${render(it.value)}" }
        null -> "None"
        else -> v.toString()
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes [tensor] as a `.npy` file, byte-identical to `numpy.save` of the same array (64-byte aligned header).
     *
     * @param dtype   `<f4` for float32, `<f8` for float32 or float64 (widened exactly), `|b1` for bool, `<i4` or `<i8` for int,
     *                `<f2` for float16, `<u2` for bfloat16 (its bit patterns), `|i1` for int8 (only its bytes: write
     *                the scales separately, as [GoldenExport] does)
     * @param version 1, 2 or 3; `null` = 1, or 2 when the header does not fit version 1's 16-bit length
     */
    @JvmStatic
    @JvmOverloads
    fun write(path: Path, tensor: Tensor, dtype: NpyDtype = NpyDtype.of(tensor), version: Int? = null) {
        val bytes = toBytes(tensor, dtype, version)
        try {
            path.parent?.let { Files.createDirectories(it) }
            Files.write(path, bytes)
        } catch (e: IOException) {
            throw GoldenFormatException(path, "cannot write: $e", e)
        }
    }

    /** The bytes of a `.npy` file holding [tensor]; see [write]. */
    @JvmStatic
    @JvmOverloads
    fun toBytes(tensor: Tensor, dtype: NpyDtype = NpyDtype.of(tensor), version: Int? = null): ByteArray {
        val ok = when (dtype) {
            NpyDtype.F4 -> tensor is FloatTensor
            NpyDtype.F8 -> tensor is FloatTensor || tensor is DoubleTensor
            NpyDtype.B1 -> tensor is BoolTensor
            NpyDtype.I4, NpyDtype.I8 -> tensor is IntTensor
            NpyDtype.F2 -> tensor is HalfTensor && tensor.dtype() == DType.FLOAT16
            NpyDtype.U2 -> tensor is HalfTensor && tensor.dtype() == DType.BFLOAT16
            NpyDtype.I1 -> tensor is Int8Tensor
        }
        if (!ok) throw GoldenFormatException(null, "cannot write a ${tensor.dtype()} tensor as ${dtype.descr}")
        val shape = tensor.shape()
        val shapeText = if (shape.size == 1) "(${shape[0]},)" else shape.joinToString(", ", "(", ")")
        val dict = "{'descr': '${dtype.descr}', 'fortran_order': False, 'shape': $shapeText, }"
        val dictBytes = dict.toByteArray(StandardCharsets.UTF_8) // ASCII, so also latin1
        val v = version ?: if (10 + dictBytes.size + 1 <= 0xffff) 1 else 2
        if (v !in 1..3) throw GoldenFormatException(null, "unknown .npy format version $v (supported: 1, 2, 3)")
        val pre = if (v == 1) 10 else 12
        val padded = ((pre + dictBytes.size + 1 + ALIGN - 1) / ALIGN) * ALIGN
        val headerLen = padded - pre
        if (v == 1 && headerLen > 0xffff) throw GoldenFormatException(null, "header of $headerLen bytes needs version 2.0 or 3.0")
        val n = tensor.elementCount()
        val out = ByteBuffer.allocate(Math.addExact(padded, Math.multiplyExact(n, dtype.itemSize))).order(ByteOrder.LITTLE_ENDIAN)
        out.put(MAGIC).put(v.toByte()).put(0)
        if (v == 1) out.putShort(headerLen.toShort()) else out.putInt(headerLen)
        out.put(dictBytes)
        repeat(headerLen - dictBytes.size - 1) { out.put(' '.code.toByte()) }
        out.put('\n'.code.toByte())
        // Logical row-major order, whatever the view's strides.
        when (dtype) {
            NpyDtype.F4 -> tensor.toFloatArray().forEach { out.putFloat(it) }
            NpyDtype.F8 -> tensor.toDoubleArray().forEach { out.putDouble(it) }
            NpyDtype.B1 -> (tensor as BoolTensor).copy().data().forEach { out.put(if (it) 1 else 0) }
            NpyDtype.I4 -> (tensor as IntTensor).toIntArray().forEach { out.putInt(it) }
            NpyDtype.I8 -> (tensor as IntTensor).toIntArray().forEach { out.putLong(it.toLong()) }
            NpyDtype.F2, NpyDtype.U2 -> (tensor as HalfTensor).copy().bits().forEach { out.putShort(it) }
            NpyDtype.I1 -> (tensor as Int8Tensor).copy().data().forEach { out.put(it) }
        }
        return out.array()
    }

    // ---------------------------------------------------------------- byte sources

    private interface Source {
        fun size(): Long

        /** Fills [buf] from [position] up to its limit, or fails as truncated. */
        fun readFully(position: Long, buf: ByteBuffer, name: Path?)
    }

    private class ChannelSource(val ch: FileChannel) : Source {
        override fun size(): Long = ch.size()
        override fun readFully(position: Long, buf: ByteBuffer, name: Path?) {
            var pos = position
            try {
                while (buf.hasRemaining()) {
                    val n = ch.read(buf, pos)
                    if (n < 0) throw GoldenFormatException(name, "truncated: unexpected end of file at byte $pos")
                    pos += n
                }
            } catch (e: IOException) {
                throw GoldenFormatException(name, "cannot read: $e", e)
            }
        }
    }

    private class ArraySource(val bytes: ByteArray) : Source {
        override fun size(): Long = bytes.size.toLong()
        override fun readFully(position: Long, buf: ByteBuffer, name: Path?) {
            val n = buf.remaining()
            if (position + n > bytes.size) throw GoldenFormatException(name, "truncated: unexpected end of data at byte ${bytes.size}")
            buf.put(bytes, position.toInt(), n)
        }
    }

    // ---------------------------------------------------------------- header syntax

    /** A Python tuple, to tell `(5,)` from a list `[5]`. */
    private class PyTuple(val items: List<Any?>)

    private class HeaderSyntaxException(message: String) : Exception(message)

    /**
     * The subset of Python literal syntax numpy headers use: a dict of string keys whose values are strings,
     * `True`/`False`/`None`, ints, tuples and lists. Whitespace may surround every token; the dict may have a
     * trailing comma; after the closing brace only whitespace (numpy's space padding and newline) may follow.
     */
    private class HeaderParser(val s: String) {
        private companion object {
            const val MAX_NESTING = 32
            const val MAX_INT_DIGITS = 19
        }

        var i = 0

        fun parse(): Map<String, Any?> {
            skipWs()
            val v = value()
            if (v !is Map<*, *>) throw HeaderSyntaxException("the header is not a dict")
            skipWs()
            if (i != s.length) throw HeaderSyntaxException("unexpected ${SafeText.quote(s[i].toString())} after the dict at offset $i")
            @Suppress("UNCHECKED_CAST")
            return v as Map<String, Any?>
        }

        fun skipWs() {
            while (i < s.length && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++
        }

        fun expect(c: Char) {
            skipWs()
            if (i >= s.length || s[i] != c) throw HeaderSyntaxException("expected '$c' at offset $i")
            i++
        }

        fun peek(): Char {
            skipWs()
            if (i >= s.length) throw HeaderSyntaxException("unexpected end of header")
            return s[i]
        }

        /** Nesting so far: a valid header nests 2 deep (dict, shape tuple); a hostile one must not overflow the stack. */
        private var depth = 0

        fun value(): Any? {
            if (++depth > MAX_NESTING) throw HeaderSyntaxException("nested deeper than $MAX_NESTING levels at offset $i")
            try {
                return when (val c = peek()) {
                    '{' -> dict()
                    '(' -> PyTuple(sequence('(', ')'))
                    '[' -> sequence('[', ']')
                    '\'', '"' -> string()
                    else -> when {
                        c == '-' || c == '+' || c.isDigit() -> int()
                        else -> word()
                    }
                }
            } finally {
                depth--
            }
        }

        fun dict(): Map<String, Any?> {
            expect('{')
            val out = LinkedHashMap<String, Any?>()
            while (peek() != '}') {
                val k = value() as? String ?: throw HeaderSyntaxException("dict keys must be strings (offset $i)")
                expect(':')
                val v = value()
                if (out.containsKey(k)) throw HeaderSyntaxException("duplicate key ${SafeText.quote(k)}")
                out[k] = v
                if (peek() == ',') i++ else if (peek() != '}') throw HeaderSyntaxException("expected ',' or '}' at offset $i")
            }
            i++
            return out
        }

        /** Items of a tuple or list. A one-element tuple needs its trailing comma, as in Python: `(5)` is an int. */
        fun sequence(open: Char, close: Char): List<Any?> {
            val start = i
            expect(open)
            val items = ArrayList<Any?>()
            var commas = 0
            while (peek() != close) {
                items += value()
                if (peek() == ',') {
                    i++
                    commas++
                } else if (peek() != close) {
                    throw HeaderSyntaxException("expected ',' or '$close' at offset $i")
                }
            }
            i++
            if (open == '(' && items.size == 1 && commas == 0) {
                throw HeaderSyntaxException("${SafeText.quote(s.substring(start, i).trim())} is a parenthesised value, not a tuple; " +
                    "a 1-tuple is written (n,)")
            }
            return items
        }

        fun string(): String {
            val q = s[i++]
            val sb = StringBuilder()
            while (true) {
                if (i >= s.length) throw HeaderSyntaxException("unterminated string")
                val c = s[i++]
                if (c == q) return sb.toString()
                if (c == '\\' || c == '\n') throw HeaderSyntaxException("escape sequences and newlines in strings are not supported")
                sb.append(c)
            }
        }

        fun int(): Long {
            val start = i
            if (s[i] == '-' || s[i] == '+') i++
            val digits = i
            while (i < s.length && s[i] in '0'..'9') i++
            if (i == digits) throw HeaderSyntaxException("expected a number at offset $start")
            // Checked before converting: a long's 19 digits are all a shape needs, and converting a million-digit
            // number takes seconds.
            if (i - digits > MAX_INT_DIGITS) {
                throw HeaderSyntaxException("integer of ${i - digits} digits at offset $start is out of range (at most $MAX_INT_DIGITS digits)")
            }
            if (i < s.length && (s[i].isLetterOrDigit() || s[i] == '.' || s[i] == '_')) {
                throw HeaderSyntaxException("expected an integer at offset $start")
            }
            val text = s.substring(start, i)
            // Python forbids leading zeros in decimal ints (except 0 itself).
            val body = text.trimStart('-', '+')
            if (body.length > 1 && body[0] == '0') throw HeaderSyntaxException("invalid integer ${SafeText.quote(text)}")
            return text.toBigInteger().let {
                if (it.bitLength() > 63) throw HeaderSyntaxException("integer '$text' is out of range") else it.toLong()
            }
        }

        fun word(): Any? {
            val start = i
            while (i < s.length && (s[i].isLetterOrDigit() || s[i] == '_')) i++
            return when (val w = s.substring(start, i)) {
                "True" -> true
                "False" -> false
                "None" -> null
                "" -> throw HeaderSyntaxException("unexpected ${SafeText.quote(s[start].toString())} at offset $start")
                else -> throw HeaderSyntaxException("unknown name ${SafeText.quote(w)} at offset $start")
            }
        }
    }
}
