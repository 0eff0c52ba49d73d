package org.attn4j.conformance.golden

import org.attn4j.api.AttentionException
import java.io.IOException
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.attribute.BasicFileAttributes

/**
 * Size limits for reading golden cases, checked before anything is allocated or parsed: the size of `case.json`
 * and of each `.npy` file comes from the file system, a tensor's size from its header (checked against the limit
 * and against the file's real size). A file over a limit is a [GoldenFormatException] that names the limit and
 * the system property that raises it.
 *
 * Defaults, and why:
 * - `case.json`: 4 MiB (`attn4j.golden.maxJsonBytes`). A case's JSON is a few hundred bytes of keys plus free
 *   `source` text; 4 MiB is thousands of times that, and Jackson's tree of 4 MiB stays in the tens of MiB.
 * - one tensor: 1 GiB of data (`attn4j.golden.maxTensorBytes`): 256 Mi float32 elements, far beyond any golden
 *   case (they exist to be run on every backend in seconds) yet below a JVM array's 2 Gi-element ceiling.
 * - all tensors of one case: 2 GiB (`attn4j.golden.maxCaseBytes`). A case is held in memory whole (inputs,
 *   expected outputs, weights) and a backend adds its output, so the total, not one tensor, decides the heap.
 *
 * Raise them for bigger cases, e.g. `ATTN_JAVA_OPTS='-Xmx16g -Dattn4j.golden.maxCaseBytes=8589934592' attn verify ...`.
 */
data class GoldenLimits(
    /** Largest `case.json`, in bytes. */
    val maxJsonBytes: Long = DEFAULT_MAX_JSON_BYTES,
    /** Largest data of one `.npy` tensor, in bytes (as stored: element count times item size). */
    val maxTensorBytes: Long = DEFAULT_MAX_TENSOR_BYTES,
    /** Largest sum of the `.npy` file sizes one case reads. */
    val maxCaseBytes: Long = DEFAULT_MAX_CASE_BYTES,
) {
    init {
        AttentionException.require(maxJsonBytes > 0, "maxJsonBytes", "> 0", maxJsonBytes)
        AttentionException.require(maxTensorBytes > 0, "maxTensorBytes", "> 0", maxTensorBytes)
        AttentionException.require(maxCaseBytes > 0, "maxCaseBytes", "> 0", maxCaseBytes)
    }

    companion object {
        const val MAX_JSON_BYTES_PROPERTY = "attn4j.golden.maxJsonBytes"
        const val MAX_TENSOR_BYTES_PROPERTY = "attn4j.golden.maxTensorBytes"
        const val MAX_CASE_BYTES_PROPERTY = "attn4j.golden.maxCaseBytes"
        const val DEFAULT_MAX_JSON_BYTES: Long = 4L shl 20
        const val DEFAULT_MAX_TENSOR_BYTES: Long = 1L shl 30
        const val DEFAULT_MAX_CASE_BYTES: Long = 2L shl 30

        /** The defaults, overridden by the system properties above (read at each call, so tests may set them). */
        @JvmStatic
        fun fromSystemProperties(): GoldenLimits = GoldenLimits(
            property(MAX_JSON_BYTES_PROPERTY, DEFAULT_MAX_JSON_BYTES),
            property(MAX_TENSOR_BYTES_PROPERTY, DEFAULT_MAX_TENSOR_BYTES),
            property(MAX_CASE_BYTES_PROPERTY, DEFAULT_MAX_CASE_BYTES))

        private fun property(name: String, default: Long): Long {
            val text = System.getProperty(name) ?: return default
            val value = text.trim().toLongOrNull()
            AttentionException.require(value != null && value > 0, name, "a number of bytes > 0", SafeText.quote(text))
            return value!!
        }
    }
}

/** File-system checks shared by the readers. */
internal object GoldenFiles {
    /**
     * The size of [path], which must be a regular file (symbolic links are followed). Checked from the file's
     * attributes without opening it: opening a FIFO for reading blocks until a writer comes, i.e. for ever.
     */
    @JvmStatic
    fun requireRegularFile(path: Path): Long {
        val attributes = try {
            Files.readAttributes(path, BasicFileAttributes::class.java)
        } catch (e: NoSuchFileException) {
            throw GoldenFormatException(path, "file not found", e)
        } catch (e: IOException) {
            throw GoldenFormatException(path, "cannot read the file's attributes: $e", e)
        }
        if (!attributes.isRegularFile) {
            val what = if (attributes.isDirectory) "a directory" else "a FIFO, device or socket"
            throw GoldenFormatException(path, "not a regular file ($what)")
        }
        return attributes.size()
    }
}
