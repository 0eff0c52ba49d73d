package org.attn4j.conformance.golden

import org.attn4j.api.AttentionException
import java.nio.file.Path

/**
 * A golden case or `.npy` file that does not follow `golden/FORMAT.md`. The message always starts with the
 * file at fault, then says what is wrong, e.g. `cases/x/q.npy: big-endian data ('>f4') is not supported`.
 *
 * The message is always one line of bounded length, whatever the input: control characters in the path and
 * the problem are escaped and each is cut (see [SafeText]), so `attn verify` can print it as it is.
 *
 * @property file    the file (or case folder) at fault, or `null` when there is none (in-memory bytes)
 * @property problem what is wrong, without the file name (as given: not escaped or cut)
 */
class GoldenFormatException @JvmOverloads constructor(
    val file: Path?,
    val problem: String,
    cause: Throwable? = null,
) : AttentionException(oneLine(file, problem), cause) {
    companion object {
        private const val serialVersionUID = 1L
        private const val PATH_LIMIT = 300

        private fun oneLine(file: Path?, problem: String): String {
            val text = SafeText.escape(problem, SafeText.MESSAGE_LIMIT)
            return if (file == null) text else SafeText.escape(file.toString(), PATH_LIMIT) + ": " + text
        }
    }
}
