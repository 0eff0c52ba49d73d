package org.attn4j.conformance.golden

import java.io.ByteArrayOutputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import kotlin.io.path.exists

/** Test helpers: locating the project's golden folder and hand-building `.npy` bytes. */
object Fixtures {
    /** `golden/` of this repository: `-Dattn4j.golden.dir`, else found by walking up from the working directory. */
    val goldenDir: Path by lazy { GoldenDirs.project() }

    /**
     * `.npy` bytes with a header written verbatim: magic, version [major].[minor], the length field (2 bytes for
     * version 1, else 4; [lengthOverride] replaces the true length), the header text, then [data].
     */
    fun npy(header: String, data: ByteArray = ByteArray(0), major: Int = 1, minor: Int = 0, lengthOverride: Long? = null,
            headerBytes: ByteArray? = null): ByteArray {
        val h = headerBytes ?: header.toByteArray(Charsets.ISO_8859_1)
        val out = ByteArrayOutputStream()
        out.write(byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(),
            'Y'.code.toByte(), major.toByte(), minor.toByte()))
        val len = lengthOverride ?: h.size.toLong()
        val lenField = ByteBuffer.allocate(if (major == 1) 2 else 4).order(ByteOrder.LITTLE_ENDIAN)
        if (major == 1) lenField.putShort(len.toInt().toShort()) else lenField.putInt(len.toInt())
        out.write(lenField.array())
        out.write(h)
        out.write(data)
        return out.toByteArray()
    }

    /** numpy's header text for a dict body, padded with spaces and a newline so the data starts at a multiple of 64. */
    fun padded(dict: String, major: Int = 1): String {
        val pre = if (major == 1) 10 else 12
        val total = ((pre + dict.length + 1 + 63) / 64) * 64
        return dict + " ".repeat(total - pre - dict.length - 1) + "\n"
    }

    fun header(descr: String, shape: String, fortran: String = "False"): String =
        padded("{'descr': '$descr', 'fortran_order': $fortran, 'shape': $shape, }")

    fun floats(vararg v: Float): ByteArray =
        ByteBuffer.allocate(4 * v.size).order(ByteOrder.LITTLE_ENDIAN).also { b -> v.forEach { b.putFloat(it) } }.array()

    fun longs(vararg v: Long): ByteArray =
        ByteBuffer.allocate(8 * v.size).order(ByteOrder.LITTLE_ENDIAN).also { b -> v.forEach { b.putLong(it) } }.array()

    fun write(dir: Path, name: String, bytes: ByteArray): Path = dir.resolve(name).also { Files.write(it, bytes) }
}
