package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.DoubleTensor
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs
import kotlin.math.max

/**
 * Both MLA step orders against a float64 computation written from the definition: decompress in double
 * (K_h = [c_kv W_UK_h^T | k_pe], V_h = c_kv W_UV_h^T), then the reference attention.
 */
class MlaDecodeTest : StringSpec({

    // Odd sizes so the vector loops run their tails: c 21, rope 6, nope 7, v 5, 3 heads, B 2, 10 tokens.
    val w = Workload.mlaDecode("t", 2, 3, Workload.Mla(21, 6, 7, 5), 10)
    val d = MlaDecode.Data.random(w, 5)

    fun expected(): DoubleArray {
        val m = w.mla()
        val b = w.batch(); val h = w.qHeads(); val lk = w.kvLen(); val c = m.kvLoraRank(); val width = m.latentWidth()
        val qk = m.qkHeadDim()
        val q = DoubleArray(b * h * qk)
        val k = DoubleArray(b * h * lk * qk)
        val v = DoubleArray(b * h * lk * m.vHeadDim())
        for (s in 0 until b) for (hh in 0 until h) {
            val bh = s * h + hh
            for (i in 0 until m.nopeDim()) q[bh * qk + i] = d.qNope()[bh * m.nopeDim() + i].toDouble()
            for (i in 0 until m.ropeDim()) q[bh * qk + m.nopeDim() + i] = d.qPe()[bh * m.ropeDim() + i].toDouble()
            for (t in 0 until lk) {
                val l = (s * lk + t) * width
                for (r in 0 until m.nopeDim()) {
                    var acc = 0.0
                    for (j in 0 until c) acc += d.wUk()[(hh * m.nopeDim() + r) * c + j].toDouble() * d.latent()[l + j]
                    k[(bh * lk + t) * qk + r] = acc
                }
                for (r in 0 until m.ropeDim()) k[(bh * lk + t) * qk + m.nopeDim() + r] = d.latent()[l + c + r].toDouble()
                for (r in 0 until m.vHeadDim()) {
                    var acc = 0.0
                    for (j in 0 until c) acc += d.wUv()[(hh * m.vHeadDim() + r) * c + j].toDouble() * d.latent()[l + j]
                    v[(bh * lk + t) * m.vHeadDim() + r] = acc
                }
            }
        }
        val spec = AttentionSpec.builder(h, h, qk).vHeadDim(m.vHeadDim()).scale(w.scale()).build()
        return ReferenceAttention.attend(spec, AttentionInputs.of(
            DoubleTensor.of(q, b, h, 1, qk), DoubleTensor.of(k, b, h, lk, qk), DoubleTensor.of(v, b, h, lk, m.vHeadDim()),
        )).out().toDoubleArray()
    }

    fun maxErr(a: FloatArray, e: DoubleArray): Double {
        a.size shouldBe e.size
        var err = 0.0
        for (i in e.indices) err = max(err, abs(a[i] - e[i]))
        return err
    }

    // reference: the absorbed order runs plan.run over a latent view; cpu: plan.decode over a keys-only latent cache.
    for (name in listOf("reference", "cpu")) {
        "the absorbed step on $name matches the float64 decompress-then-attend" {
            MlaDecode.absorbed(Backends.byName(name), d, 2).use { maxErr(it.step(), expected()) shouldBeLessThan 1e-5 }
        }

        "the naive step on $name matches the float64 decompress-then-attend" {
            MlaDecode.naive(Backends.byName(name), d, 2).use { maxErr(it.step(), expected()) shouldBeLessThan 1e-5 }
        }
    }

    // Hand-worked: [1,2,3,4,5]·[1,1,1,1,1] = 15; axpy 2·[1..5] + [1..5] = 3·[1..5].
    "the vector helpers handle tails" {
        val x = FloatArray(5) { (it + 1).toFloat() }
        MlaDecode.dot(x, 0, FloatArray(5) { 1f }, 0, 5) shouldBe 15f
        val y = x.copyOf()
        MlaDecode.axpy(2f, x, 0, y, 0, 5)
        y.toList() shouldBe listOf(3f, 6f, 9f, 12f, 15f)
    }
})
