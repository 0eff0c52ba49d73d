package org.attn4j.kernels.gpu

/** Test access to an opencl backend built from a given kernel source (mutation testing of attention.cl). */
object MutantBackends {
    /** A private-context backend on the default device whose programs are built from [source]. */
    fun withSource(source: String): OpenClBackend = OpenClBackend.withKernelSource(null, source)

    /**
     * Builds [backend]'s float32 program now; a failed build throws with the log. (The float64 program is built when
     * a check first needs it: building both for every mutant would cost seconds each.)
     */
    fun build(backend: OpenClBackend) {
        backend.contextForTests().program(RealType.FLOAT32)
    }
}
