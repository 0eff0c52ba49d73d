package org.attn4j.conformance.golden

import org.attn4j.api.AttentionException
import java.nio.file.Path

/**
 * A golden case or `.npy` file that does not follow `golden/FORMAT.md`. The message always starts with the
 * file at fault, then says what is wrong, e.g. `cases/x/q.npy: big-endian data ('>f4') is not supported`.
 *
 * @property file    the file (or case folder) at fault, or `null` when there is none (in-memory bytes)
 * @property problem what is wrong, without the file name
 */
class GoldenFormatException @JvmOverloads constructor(
    val file: Path?,
    val problem: String,
    cause: Throwable? = null,
) : AttentionException(if (file == null) problem else "$file: $problem", cause) {
    companion object {
        private const val serialVersionUID = 1L
    }
}
