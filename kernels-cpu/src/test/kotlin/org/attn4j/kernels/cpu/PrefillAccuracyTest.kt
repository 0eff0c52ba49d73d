package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import org.attn4j.api.Alignment
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionSpec
import org.attn4j.api.BoolTensor
import org.attn4j.api.DoubleTensor
import org.attn4j.api.FloatTensor
import org.attn4j.api.IntTensor
import org.attn4j.api.Window
import java.util.Random

/** Dense prefill (`plan.run`) against the float64 reference, on the scalar and the vector kernels. */
class PrefillAccuracyTest : StringSpec({
    val headDims = listOf(1, 2, 3, 7, 13, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 255, 256)

    for (backend in Kernels.backends()) {
        val kn = backend.kernels().name()

        "head_dim sweep, decode-shaped rows (keys read in place) [$kn]" {
            for (d in headDims) {
                val spec = AttentionSpec.builder(4, 2, d).build()
                checkKernel(backend, "d=$d", spec, qkv(Random(d.toLong()), spec, 1, 3, 37))
            }
        }

        "head_dim sweep, prefill-shaped rows (transposed keys), causal, v_head_dim differs [$kn]" {
            for (d in headDims) {
                val dv = if (d % 2 == 0) d else d + 2
                val spec = AttentionSpec.builder(4, 2, d).vHeadDim(dv).causal().build()
                checkKernel(backend, "d=$d", spec, qkv(Random(100L + d), spec, 1, 17, 70))
            }
        }

        "lengths across tile edges, both paths [$kn]" {
            val lengths = listOf(0, 1, 7, 8, 9, 15, 16, 17, 31, 33)
            val b = CpuBackend(backend.kernels(), SMALL_TILES)
            val rng = Random(7)
            for (lq in lengths) for (lk in lengths) {
                val spec = AttentionSpec.builder(2, 1, 5).causal(lq % 2 == 1).build()
                checkKernel(b, "lq=$lq lk=$lk", spec, qkv(rng, spec, 2, lq, lk))
            }
        }

        "default tiles: lengths 63 64 65 127 129 [$kn]" {
            val rng = Random(8)
            for (len in listOf(63, 64, 65, 127, 129)) {
                val spec = AttentionSpec.builder(2, 1, 24).causal().build()
                checkKernel(backend, "len=$len", spec, qkv(rng, spec, 1, len, len))
                val spec2 = AttentionSpec.builder(2, 2, 24).build()
                checkKernel(backend, "lq=3 lk=$len", spec2, qkv(rng, spec2, 1, 3, len))
            }
        }

        "GQA groups 6/2 8/1 12/4 7/7 [$kn]" {
            val rng = Random(9)
            for ((hq, hkv) in listOf(6 to 2, 8 to 1, 12 to 4, 7 to 7)) {
                for (causal in listOf(false, true)) {
                    val spec = AttentionSpec.builder(hq, hkv, 20).causal(causal).build()
                    checkKernel(backend, "$hq/$hkv causal=$causal prefill", spec, qkv(rng, spec, 2, 19, 23))
                    checkKernel(backend, "$hq/$hkv causal=$causal decode", spec, qkv(rng, spec, 2, 1, 41))
                }
            }
        }

        "causal with both alignments, q_len above and below kv_len [$kn]" {
            val rng = Random(10)
            for (alignment in Alignment.entries) for ((lq, lk) in listOf(20 to 50, 50 to 20, 33 to 33)) {
                val spec = AttentionSpec.builder(4, 2, 16).causal().alignment(alignment).build()
                checkKernel(backend, "$alignment lq=$lq lk=$lk", spec, qkv(rng, spec, 1, lq, lk))
            }
        }

        "windows: left, right, both, with causal, both alignments [$kn]" {
            val rng = Random(11)
            val windows = listOf(Window(5, -1), Window(-1, 3), Window(4, 2), Window(0, 0), Window(40, -1))
            for (w in windows) for (causal in listOf(false, true)) for (alignment in Alignment.entries) {
                val spec = AttentionSpec.builder(4, 1, 12).window(w).causal(causal).alignment(alignment).build()
                checkKernel(backend, "$w causal=$causal $alignment", spec, qkv(rng, spec, 1, 30, 45))
            }
        }

        "softcap and custom scale [$kn]" {
            val rng = Random(12)
            val spec = AttentionSpec.builder(4, 2, 32).softcap(5.0).scale(0.9).causal().build()
            checkKernel(backend, "softcap 5 scale 0.9", spec, qkv(rng, spec, 2, 40, 40))
            val spec2 = AttentionSpec.builder(4, 2, 32).softcap(30.0).build()
            checkKernel(backend, "softcap 30 decode", spec2, qkv(rng, spec2, 2, 2, 40))
        }

        "bias in every broadcast shape, float32 and float64, strided [$kn]" {
            val rng = Random(13)
            val spec = AttentionSpec.builder(4, 2, 16).causal().build()
            val b = 2; val lq = 21; val lk = 26
            val base = qkv(rng, spec, b, lq, lk)
            val shapes = listOf(intArrayOf(lq, lk), intArrayOf(b, 1, lq, lk), intArrayOf(4, 1, lk), intArrayOf(1),
                intArrayOf(b, 4, lq, lk), intArrayOf(lk), intArrayOf(b, 4, 1, 1))
            for (shape in shapes) {
                checkKernel(backend, "bias ${shape.contentToString()}", spec, base.withBias(randn(rng, *shape)))
            }
            val b64 = DoubleTensor.copyOf(randn(rng, b, 4, lq, lk))
            checkKernel(backend, "float64 bias", spec, base.withBias(b64))
            // a transposed view: [lk, lq] storage read as [lq, lk]
            val t = randn(rng, lk, lq).permute(1, 0)
            checkKernel(backend, "strided bias", spec, base.withBias(t))
            val dq = qkv(rng, spec, b, 1, lk).withBias(randn(rng, 1, lk))
            checkKernel(backend, "bias decode", spec, dq)
        }

        "ALiBi, both alignments and with kv_lens [$kn]" {
            val rng = Random(14)
            for (alignment in Alignment.entries) {
                val spec = AttentionSpec.builder(6, 2, 16).causal().alignment(alignment).build()
                val slopes = FloatTensor.of(FloatArray(6) { 1f / (1 shl (it + 1)) }, 6)
                val inputs = qkv(rng, spec, 2, 13, 29).withAlibiSlopes(slopes).withKvLens(29, 17)
                checkKernel(backend, "alibi $alignment", spec, inputs)
                val noncausal = AttentionSpec.builder(6, 2, 16).alignment(alignment).build()
                checkKernel(backend, "alibi non-causal $alignment", noncausal, qkv(rng, noncausal, 1, 2, 29).withAlibiSlopes(slopes))
            }
        }

        "bool masks in broadcast shapes, with rows fully masked [$kn]" {
            val rng = Random(15)
            val spec = AttentionSpec.builder(4, 2, 16).build()
            val b = 2; val lq = 19; val lk = 35
            val base = qkv(rng, spec, b, lq, lk)
            fun mask(vararg shape: Int, p: Double = 0.6) = BoolTensor.of(BooleanArray(shape.reduce(Int::times)) { rng.nextDouble() < p }, *shape)
            for (shape in listOf(intArrayOf(lk), intArrayOf(b, 1, 1, lk), intArrayOf(lq, lk), intArrayOf(b, 4, lq, lk), intArrayOf(4, 1, 1))) {
                checkKernel(backend, "mask ${shape.contentToString()}", spec, base.withMask(mask(*shape)))
            }
            // row 3 of every head sees nothing: out 0, lse -inf
            val m = BooleanArray(lq * lk) { rng.nextBoolean() }
            for (j in 0 until lk) m[3 * lk + j] = false
            val out = checkKernel(backend, "mask with an empty row", spec, base.withMask(BoolTensor.of(m, lq, lk)))
            out.lse()!!.getDouble(1, 2, 3) shouldBe Double.NEGATIVE_INFINITY
            // a sparse mask: most KV tiles of a row hide every key
            checkKernel(backend, "sparse mask", spec, base.withMask(mask(b, 4, lq, lk, p = 0.05)))
        }

        "kv_lens including 0, with causal bottom-right [$kn]" {
            val rng = Random(16)
            val spec = AttentionSpec.builder(4, 2, 16).causal().build()
            val inputs = qkv(rng, spec, 4, 9, 40).withKvLens(40, 0, 5, 23)
            val out = checkKernel(backend, "kv_lens", spec, inputs)
            out.lse()!!.getDouble(1, 0, 0) shouldBe Double.NEGATIVE_INFINITY
            checkKernel(backend, "kv_lens non-causal", AttentionSpec.builder(4, 2, 16).build(), inputs)
        }

        "sinks, with an empty row whose lse is the sink [$kn]" {
            val rng = Random(17)
            val spec = AttentionSpec.builder(4, 2, 16).causal().build()
            val sinks = FloatTensor.of(floatArrayOf(0.5f, -1f, 2f, 4f), 4)
            val inputs = qkv(rng, spec, 2, 12, 30).withSinks(sinks).withKvLens(30, 0)
            val out = checkKernel(backend, "sinks", spec, inputs)
            // sequence 1 has no keys: its rows are 0 with lse = sinks[h] (worked from FORMAT.md, not computed)
            out.lse()!!.getDouble(1, 2, 5) shouldBe 2.0
            out.out().getDouble(1, 2, 5, 7) shouldBe 0.0
            checkKernel(backend, "sinks decode", spec, qkv(rng, spec, 2, 1, 30).withSinks(sinks))
        }

        "every feature at once, float64 inputs in a [B, L, H, D] layout [$kn]" {
            val rng = Random(18)
            val spec = AttentionSpec.builder(6, 3, 24).vHeadDim(20).causal().window(9, 2).softcap(8.0).scale(0.3).build()
            val b = 2; val lq = 25; val lk = 37
            fun blhd(l: Int, h: Int, d: Int) = DoubleTensor.copyOf(randn(rng, b, l, h, d)).permute(0, 2, 1, 3)
            val inputs = AttentionInputs(blhd(lq, 6, 24), blhd(lk, 3, 24), blhd(lk, 3, 20), randn(rng, 6, lq, lk),
                BoolTensor.of(BooleanArray(lk) { it % 5 != 1 }, lk), FloatTensor.of(FloatArray(6) { 0.05f * it }, 6),
                FloatTensor.of(FloatArray(6) { it - 2f }, 6), IntTensor.of(intArrayOf(37, 30), 2))
            checkKernel(backend, "all features", spec, inputs)
            checkKernel(backend, "all features, 1 thread", spec, inputs, threads = 1)
        }

        "large score magnitudes [$kn]" {
            val rng = Random(19)
            val spec = AttentionSpec.builder(2, 1, 32).causal().build()
            val inputs = AttentionInputs.of(randn(rng, 1, 2, 40, 32, scale = 6.0), randn(rng, 1, 1, 40, 32, scale = 6.0), randn(rng, 1, 1, 40, 32))
            checkKernel(backend, "scores ~ +-40", spec, inputs, elementwise = false) // see assertAccurate
        }
    }
})
