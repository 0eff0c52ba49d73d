package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.Backends
import org.attn4j.api.FloatTensor
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs
import kotlin.math.max

/** What the benchmarks time on the cpu backend computes the workload: checked against the float64 reference. */
class AttnRunTest : StringSpec({

    for (name in listOf("P1", "P2", "D1", "D2", "M1")) {
        "tiny $name on cpu matches the float64 reference" {
            val w = Workload.tiny(name)
            val data = BenchData.random(w, 3)
            val got = AttnRun.prepare(Backends.byName("cpu"), data, 2).use { it.run().toDoubleArray() }
            val ref = ReferenceAttention.attend(w.spec(), AttentionInputs.of(
                FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim()),
                FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
                FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()),
            )).out().toDoubleArray()
            got.size shouldBe ref.size
            var err = 0.0
            for (i in ref.indices) err = max(err, abs(got[i] - ref[i]))
            err shouldBeLessThan 1e-5
        }
    }

    "M1 decodes over the latent cache on cpu and on the reference (the api's default decode gathers a keys-only cache)" {
        val data = BenchData.random(Workload.tiny("M1"), 3)
        AttnRun.prepare(Backends.byName("cpu"), data, 1).use { it.usesCache() shouldBe true }
        AttnRun.prepare(Backends.byName("reference"), data, 1).use { it.usesCache() shouldBe true }
    }
})
