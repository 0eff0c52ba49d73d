package org.attn4j.kernels.gpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe

/**
 * PoCL's LLVM installs crash handlers over the JVM's; a CI test JVM died with a bare "Segmentation fault". The
 * build's test JVMs preload HotSpot's signal-chaining library (the root pom's surefire LD_PRELOAD): if that
 * setting is lost, this fails before a crash can.
 */
class SignalChainingTest : StringSpec({
    "the test JVM runs with HotSpot's signal chaining (libjsig) preloaded" {
        ClDevice.signalChainingLoaded() shouldBe true
    }
})
