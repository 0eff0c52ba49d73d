package org.attn4j.kernels.gpu

import io.kotest.core.test.TestCase

/**
 * The backend under test, shared by the specs (plans reuse the device's cached programs, which keeps PoCL's slow
 * compiles to one per program). Without OpenCL the tests are skipped with the reason printed, except when
 * OpenCL is required — `ATTN4J_REQUIRE` names `opencl` (`./run-tests` sets it whenever PoCL is installed) or
 * `CI=true` — then they run and fail, so a machine that should test OpenCL cannot pass without it.
 */
object Gpu {
    val backend: OpenClBackend by lazy { OpenClBackend() }

    val isCi: Boolean get() = System.getenv("CI").equals("true", ignoreCase = true)

    val isRequired: Boolean get() = isCi || System.getenv("ATTN4J_REQUIRE").orEmpty().split(',').contains("opencl")

    /**
     * For `defaultTestConfig(enabledIf = ...)`: run when OpenCL works or on CI; otherwise skip, loudly.
     * (Kotest 6.2 lets a default `enabledIf` decide before `enabledOrReasonIf`, so the reason is printed here.)
     */
    val enabled: (TestCase) -> Boolean = {
        val reason = backend.unavailableReason()
        if (reason.isEmpty || isRequired) {
            true
        } else {
            System.err.println("kernels-gpu: OpenCL is unavailable, SKIPPING '${it.name.name}': ${reason.get()}")
            false
        }
    }

    /** The backend, failing loudly (with the reason) when OpenCL is unavailable. */
    fun require(): OpenClBackend {
        backend.unavailableReason().ifPresent { throw AssertionError("OpenCL is unavailable (required: $isRequired): $it") }
        return backend
    }
}
