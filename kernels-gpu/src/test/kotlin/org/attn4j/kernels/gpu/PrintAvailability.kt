package org.attn4j.kernels.gpu

/** Run in a child JVM by OpenClResourceTest: prints why the default backend is unavailable, or AVAILABLE. */
object PrintAvailability {
    @JvmStatic
    fun main(args: Array<String>) {
        val backend = OpenClBackend()
        println("name=" + backend.name())
        println("reason=" + backend.unavailableReason().orElse("AVAILABLE"))
    }
}
