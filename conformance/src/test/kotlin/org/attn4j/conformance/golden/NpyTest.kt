package org.attn4j.conformance.golden

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.longs.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionException
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.Tensor
import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.nio.file.Path
import kotlin.io.path.name

class NpyTest : FunSpec({
    val dir = tempdir().toPath()

    /** Writes [bytes] as a file and returns the error reading it raises. */
    fun rejected(fileName: String, bytes: ByteArray): GoldenFormatException {
        val p = Fixtures.write(dir, fileName, bytes)
        val e = shouldThrow<GoldenFormatException> { Npy.read(p) }
        e.shouldBeInstanceOf<AttentionException>()
        e.file shouldBe p
        e.message!! shouldStartWith p.toString()
        return e
    }

    fun sameBits(a: Tensor, b: Tensor) {
        b.javaClass shouldBe a.javaClass
        b.shape().toList() shouldBe a.shape().toList()
        when (a) {
            is FloatTensor -> (b as FloatTensor).data().map { it.toRawBits() } shouldBe a.data().map { it.toRawBits() }
            is DoubleTensor -> (b as DoubleTensor).data().map { it.toRawBits() } shouldBe a.data().map { it.toRawBits() }
            is BoolTensor -> (b as BoolTensor).data().toList() shouldBe a.data().toList()
            is IntTensor -> (b as IntTensor).data().toList() shouldBe a.data().toList()
            else -> error("no .npy round trip for a ${a.dtype()} tensor yet")
        }
    }

    context("round trip: write then read gives the same tensor") {
        val floats = floatArrayOf(0f, -0f, 1.5f, -3.25e-7f, Float.MIN_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, 1f / 3, 7f, -1e30f)
        val doubles = doubleArrayOf(0.0, -0.0, Math.PI, -1e-300, Double.MIN_VALUE, Double.MAX_VALUE, Double.NEGATIVE_INFINITY,
            Double.NaN, 1.0 / 3, 2.0, 5e-324, 123456.789)
        val ints = intArrayOf(0, 1, -1, Int.MAX_VALUE, Int.MIN_VALUE, 42, 7, -7, 100000, 3, 2, 1)
        val bools = BooleanArray(12) { it % 3 == 0 }
        val cases = listOf<Pair<NpyDtype, Tensor>>(
            NpyDtype.F4 to FloatTensor.of(floats, 3, 4),
            NpyDtype.F8 to DoubleTensor.of(doubles, 2, 3, 2),
            NpyDtype.B1 to BoolTensor.of(bools, 12),
            NpyDtype.I4 to IntTensor.of(ints, 2, 1, 6),
            NpyDtype.I8 to IntTensor.of(ints, 4, 3),
        )
        for ((dtype, t) in cases) for (version in 1..3) {
            test("${dtype.descr} ${t.shape().contentToString()} version $version.0") {
                val p = dir.resolve("rt-${dtype.name}-$version.npy")
                Npy.write(p, t, dtype, version)
                Npy.readHeader(p).let {
                    it.version shouldBe version
                    it.dtype shouldBe dtype
                    (it.dataOffset % 64) shouldBe 0L // numpy's alignment
                }
                sameBits(t, Npy.read(p))
            }
        }
        test("scalar shape () in every dtype") {
            val scalars = listOf(NpyDtype.F4 to FloatTensor.of(floatArrayOf(2.5f)), NpyDtype.F8 to DoubleTensor.of(doubleArrayOf(-1e-9)),
                NpyDtype.B1 to BoolTensor.of(booleanArrayOf(true)), NpyDtype.I4 to IntTensor.of(intArrayOf(-5)),
                NpyDtype.I8 to IntTensor.of(intArrayOf(Int.MIN_VALUE)))
            for ((dtype, t) in scalars) for (version in 1..3) {
                val bytes = Npy.toBytes(t, dtype, version)
                String(bytes, Charsets.ISO_8859_1) shouldContain "'shape': (), }"
                val back = Npy.read(bytes, Path.of("scalar.npy"))
                back.rank() shouldBe 0
                sameBits(t, back)
            }
        }
        test("zero-size shapes") {
            val empties = listOf(NpyDtype.F4 to FloatTensor.zeros(0), NpyDtype.F8 to DoubleTensor.zeros(2, 0, 3),
                NpyDtype.B1 to BoolTensor.of(BooleanArray(0), 0, 5), NpyDtype.I4 to IntTensor.of(IntArray(0), 3, 0),
                NpyDtype.I8 to IntTensor.of(IntArray(0), 0, 0))
            for ((dtype, t) in empties) for (version in 1..3) {
                val p = dir.resolve("empty-${dtype.name}-$version.npy")
                Npy.write(p, t, dtype, version)
                sameBits(t, Npy.read(p))
                Files.size(p) shouldBe Npy.readHeader(p).dataOffset // no data bytes at all
            }
        }
        test("a strided view is written in logical row-major order") {
            val t = FloatTensor.of(FloatArray(24) { it.toFloat() }, 2, 3, 4).permute(0, 2, 1) // [2, 4, 3]
            val back = Npy.read(Npy.toBytes(t), null) as FloatTensor
            back.shape().toList() shouldBe listOf(2, 4, 3)
            for (b in 0 until 2) for (i in 0 until 4) for (j in 0 until 3) back.get(b, i, j) shouldBe (b * 12 + j * 4 + i).toFloat()
        }
        test("float32 written as <f8 widens exactly") {
            val t = FloatTensor.of(floatArrayOf(0.1f, -2f), 2)
            val back = Npy.read(Npy.toBytes(t, NpyDtype.F8), null) as DoubleTensor
            back.data().toList() shouldBe listOf(0.1f.toDouble(), -2.0)
        }
        test("the writer refuses a dtype that does not fit the tensor") {
            shouldThrow<GoldenFormatException> { Npy.toBytes(DoubleTensor.zeros(2), NpyDtype.F4) }.message!! shouldContain "<f4"
            shouldThrow<GoldenFormatException> { Npy.toBytes(FloatTensor.zeros(2), NpyDtype.I4) }
        }
    }

    context("agreement with numpy") {
        test("re-writing every golden .npy (written by numpy.save) reproduces its bytes exactly") {
            val files = Files.walk(Fixtures.goldenDir).use { s -> s.filter { it.name.endsWith(".npy") }.toList() }
            (files.size > 400) shouldBe true
            val mismatched = files.filter { p ->
                val original = Files.readAllBytes(p)
                val t = Npy.read(p)
                // kv_lens are <i8 in the ONNX cases; every other file uses the tensor's natural dtype.
                val dtype = Npy.readHeader(p).dtype
                !Npy.toBytes(t, dtype).contentEquals(original)
            }
            mismatched.shouldBeEmpty()
        }
        test("header spellings numpy accepts: double quotes, other key order, no trailing comma, 16-byte padding, tabs") {
            val data = Fixtures.floats(1f, 2f)
            val headers = listOf(
                "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}\n",
                "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}      \n",
                "{'descr':'<f4','fortran_order':False,'shape':(2,),}\n",
                "{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 2 , ) , }    \n",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",  // no newline at all
            )
            for (h in headers) {
                val t = Npy.read(Fixtures.npy(h, data), null) as FloatTensor
                t.data().toList() shouldBe listOf(1f, 2f)
            }
            // version 3.0 (UTF-8 header)
            val v3 = Fixtures.npy(Fixtures.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 3), data, major = 3)
            (Npy.read(v3, null) as FloatTensor).data().toList() shouldBe listOf(1f, 2f)
        }
        test("<i4 and <i8 read into int tensors, |b1 into bool") {
            val i8 = Npy.read(Fixtures.npy(Fixtures.header("<i8", "(3,)"), Fixtures.longs(5, -2, Int.MAX_VALUE.toLong())), null)
            (i8 as IntTensor).data().toList() shouldBe listOf(5, -2, Int.MAX_VALUE)
            val b1 = Npy.read(Fixtures.npy(Fixtures.header("|b1", "(1, 3)"), byteArrayOf(1, 0, 1)), null)
            (b1 as BoolTensor).data().toList() shouldBe listOf(true, false, true)
        }
    }

    context("malformed files are rejected with the file and the problem named") {
        val f4x2 = Fixtures.floats(1f, 2f)
        test("bad magic") {
            val bytes = Fixtures.npy(Fixtures.header("<f4", "(2,)"), f4x2).also { it[1] = 'X'.code.toByte() }
            rejected("magic.npy", bytes).problem shouldContain "bad magic"
        }
        test("a file shorter than the preamble") {
            rejected("short.npy", byteArrayOf(0x93.toByte(), 'N'.code.toByte())).problem shouldContain "shorter than the 10-byte preamble"
        }
        test("unknown versions 4.0 and 1.1") {
            rejected("v4.npy", Fixtures.npy(Fixtures.header("<f4", "(2,)"), f4x2, major = 4)).problem shouldContain "unknown .npy format version 4.0"
            rejected("v11.npy", Fixtures.npy(Fixtures.header("<f4", "(2,)"), f4x2, minor = 1)).problem shouldContain "version 1.1"
        }
        test("Fortran order") {
            rejected("fortran.npy", Fixtures.npy(Fixtures.header("<f4", "(1, 2)", fortran = "True"), f4x2)).problem shouldContain "Fortran order"
        }
        test("big-endian") {
            rejected("big.npy", Fixtures.npy(Fixtures.header(">f4", "(2,)"), f4x2)).problem shouldContain "big-endian"
        }
        test("other dtypes: |u1, <f2, <c8, <u4, |i1, <b1, native-order f4") {
            for (d in listOf("|u1", "<f2", "<c8", "<u4", "|i1", "<b1", "=f4", "f4")) {
                val e = rejected("dtype.npy", Fixtures.npy(Fixtures.header(d, "(2,)"), f4x2))
                e.problem shouldContain "unsupported dtype '$d'"
            }
        }
        test("object arrays") {
            rejected("object.npy", Fixtures.npy(Fixtures.header("|O", "(2,)"), ByteArray(16))).problem shouldContain "object arrays"
        }
        test("structured dtypes") {
            val h = Fixtures.padded("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }")
            rejected("structured.npy", Fixtures.npy(h, f4x2)).problem shouldContain "structured dtypes are not supported"
        }
        test("truncated data") {
            rejected("trunc.npy", Fixtures.npy(Fixtures.header("<f4", "(3,)"), f4x2)).problem shouldContain
                "truncated: shape (3,) of <f4 needs 12 data bytes, the file holds 8"
        }
        test("trailing extra data") {
            rejected("long.npy", Fixtures.npy(Fixtures.header("<f4", "(1,)"), f4x2)).problem shouldContain "4 bytes of trailing data"
        }
        test("header length beyond the end of the file") {
            val h = Fixtures.header("<f4", "(2,)")
            rejected("hlen.npy", Fixtures.npy(h, f4x2, lengthOverride = 60000)).problem shouldContain "header length 60000 runs past the end"
            rejected("hlen2.npy", Fixtures.npy(h, f4x2, major = 2, lengthOverride = 0xfffffff0L)).problem shouldContain
                "header length 4294967280 runs past the end"
        }
        test("negative shape") {
            rejected("neg.npy", Fixtures.npy(Fixtures.header("<f4", "(-2,)"), f4x2)).problem shouldContain "negative size in shape (-2,)"
        }
        test("overflowing shapes") {
            rejected("ovf.npy", Fixtures.npy(Fixtures.header("<f4", "(4294967298,)"), f4x2)).problem shouldContain
                "size 4294967298 in shape (4294967298,) overflows a 32-bit int"
            rejected("ovf2.npy", Fixtures.npy(Fixtures.header("<f4", "(2147483647, 2147483647, 2147483647)"), f4x2)).problem shouldContain
                "its element count does not fit in 64 bits"
            rejected("ovf3.npy", Fixtures.npy(Fixtures.header("<f4", "(99999999999999999999,)"), f4x2)).problem shouldContain "out of range"
        }
        test("a gigantic shape fails fast without allocating") {
            val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
            val header = Fixtures.header("<f8", "(1000000, 1000000)") // 10^12 elements, 8 TB
            val header2 = Fixtures.header("<f4", "(10000, 10000)")    // 10^8 elements: 400 MB would fit a test heap
            val before = threads.getThreadAllocatedBytes(Thread.currentThread().threadId())
            val start = System.nanoTime()
            rejected("huge.npy", Fixtures.npy(header, f4x2)).problem shouldContain "needs 8000000000000 data bytes, the file holds 8"
            rejected("big400.npy", Fixtures.npy(header2, f4x2)).problem shouldContain "needs 400000000 data bytes"
            val allocated = threads.getThreadAllocatedBytes(Thread.currentThread().threadId()) - before
            allocated shouldBeLessThan 32L * 1024 * 1024
            (System.nanoTime() - start) shouldBeLessThan 2_000_000_000L
        }
        test("<i8 values outside the int range") {
            rejected("i8.npy", Fixtures.npy(Fixtures.header("<i8", "(1, 2)"), Fixtures.longs(1, 1L shl 31))).problem shouldContain
                "<i8 element [0, 1] = 2147483648 does not fit in a 32-bit int"
            rejected("i8neg.npy", Fixtures.npy(Fixtures.header("<i8", "(1,)"), Fixtures.longs(Long.MIN_VALUE))).problem shouldContain
                "does not fit in a 32-bit int"
        }
        test("bool bytes other than 0 and 1") {
            rejected("b1.npy", Fixtures.npy(Fixtures.header("|b1", "(2, 2)"), byteArrayOf(0, 1, 1, 2))).problem shouldContain
                "|b1 element [1, 1] is byte 2, expected 0 or 1"
            rejected("b1ff.npy", Fixtures.npy(Fixtures.header("|b1", "(1,)"), byteArrayOf(-1))).problem shouldContain "byte 255"
        }
        test("header dicts with missing, extra or duplicate keys") {
            rejected("nokey.npy", Fixtures.npy(Fixtures.padded("{'descr': '<f4', 'shape': (2,), }"), f4x2)).problem shouldContain
                "missing fortran_order"
            rejected("extra.npy", Fixtures.npy(Fixtures.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), f4x2))
                .problem shouldContain "unexpected x"
            rejected("dup.npy", Fixtures.npy(Fixtures.padded("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
                f4x2)).problem shouldContain "duplicate key 'descr'"
        }
        test("header syntax that is not a Python dict literal of the right types") {
            val bad = mapOf(
                "shape (2) is an int, not a tuple" to "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }",
                "a list is not a tuple" to "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
                "fortran_order must be a bool" to "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
                "float sizes" to "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
                "text after the dict" to "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x\n",
                "not a dict" to "['descr', '<f4']\n",
                "unterminated" to "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)\n",
                "unknown name" to "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}\n",
            )
            for ((why, h) in bad) {
                val e = rejected("syntax.npy", Fixtures.npy(Fixtures.padded(h.trimEnd('\n')), f4x2))
                withClue(why) {
                    (e.problem.contains("malformed header") || e.problem.contains("shape must be a tuple") ||
                        e.problem.contains("fortran_order must be")) shouldBe true
                }
            }
        }
        test("a version 3.0 header that is not UTF-8") {
            val h = Fixtures.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 3).toByteArray(Charsets.ISO_8859_1)
            h[h.size - 2] = 0xff.toByte() // inside the padding
            rejected("v3.npy", Fixtures.npy("", f4x2, major = 3, headerBytes = h)).problem shouldContain "not valid UTF-8"
        }
        test("a missing file") {
            val p = dir.resolve("nope.npy")
            val e = shouldThrow<GoldenFormatException> { Npy.read(p) }
            e.message shouldBe "$p: file not found"
        }
    }
    test("a deeply nested header is a GoldenFormatException, not a StackOverflowError (found by the TCK's reader fuzzer)") {
        val nested = "(".repeat(100_000) + ")".repeat(100_000)
        val bytes = Fixtures.npy(Fixtures.padded("{'descr': '<f4', 'fortran_order': False, 'shape': $nested, }", 2), ByteArray(0), major = 2)
        rejected("nested.npy", bytes).message!! shouldContain "nested deeper than"
    }
})

private inline fun <T> withClue(clue: String, block: () -> T): T = io.kotest.assertions.withClue(clue, block)
