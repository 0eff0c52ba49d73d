package org.attn4j.kernels.cpu

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.DType
import org.attn4j.api.Precision
import java.util.Random
import kotlin.math.abs
import kotlin.math.exp
import kotlin.math.max
import kotlin.math.tanh

/**
 * Each loop of both CpuKernelSupport implementations against the same arithmetic done in double in the test
 * (Lucene's TestVectorUtilSupport style), over awkward sizes that exercise every vector tail.
 */
class KernelSupportTest : StringSpec({
    val sizes = listOf(0, 1, 2, 3, 7, 13, 15, 16, 17, 31, 33, 47, 63, 64, 65, 129, 207)

    fun floats(rng: Random, n: Int) = FloatArray(n) { rng.nextGaussian().toFloat() }

    /** |got - exact| within float32 accumulation error: n ulps of the magnitude sum. */
    fun close(label: String, got: Float, exact: Double, magnitude: Double, n: Int) {
        val tol = (n + 2) * 1.2e-7 * magnitude + 1e-30
        check(abs(got - exact) <= tol) { "$label: got $got, exact $exact (tol $tol)" }
    }

    for (k in Kernels.both) {
        val kn = k.name()

        "dot [$kn]" {
            val rng = Random(41)
            for (n in sizes) {
                val a = floats(rng, n + 3); val b = floats(rng, n + 5)
                var exact = 0.0; var mag = 0.0
                for (i in 0 until n) { exact += a[3 + i].toDouble() * b[5 + i]; mag += abs(a[3 + i].toDouble() * b[5 + i]) }
                close("n=$n", k.dot(a, 3, b, 5, n), exact, mag, n)
            }
        }

        "dotScores: rows 1..6, strided rows and outputs [$kn]" {
            val rng = Random(42)
            for (d in sizes) for (rows in 1..6) {
                val n = 1 + rng.nextInt(9)
                val qStride = d + 2; val kStride = d + 3; val sStride = n + 4
                val q = floats(rng, rows * qStride + 1); val kk = floats(rng, n * kStride + 2)
                val s = FloatArray(rows * sStride + 1) { -7f }
                k.dotScores(rows, n, d, 0.5f, q, 1, qStride, kk, 2, kStride, s, 1, sStride)
                for (r in 0 until rows) for (c in 0 until n) {
                    var exact = 0.0; var mag = 0.0
                    for (e in 0 until d) { val p = q[1 + r * qStride + e].toDouble() * kk[2 + c * kStride + e]; exact += p; mag += abs(p) }
                    close("d=$d rows=$rows r=$r c=$c", s[1 + r * sStride + c], 0.5 * exact, 0.5 * mag, d)
                }
                s[0] shouldBe -7f // nothing written outside
            }
        }

        "transposedScores: rows 1..5, every column count [$kn]" {
            val rng = Random(43)
            for (n in sizes) for (rows in 1..5) {
                val d = 1 + rng.nextInt(20)
                val ktStride = n + 5; val sStride = n + 1
                val q = floats(rng, rows * d); val kt = floats(rng, d * ktStride + 3)
                val s = FloatArray(rows * sStride) { 99f }
                k.transposedScores(rows, n, d, 0.25f, q, 0, d, kt, 3, ktStride, s, 0, sStride)
                for (r in 0 until rows) {
                    for (c in 0 until n) {
                        var exact = 0.0; var mag = 0.0
                        for (e in 0 until d) { val p = q[r * d + e].toDouble() * kt[3 + e * ktStride + c]; exact += p; mag += abs(p) }
                        close("n=$n rows=$rows r=$r c=$c", s[r * sStride + c], 0.25 * exact, 0.25 * mag, d)
                    }
                    s[r * sStride + n] shouldBe 99f // the padding column between rows is untouched
                }
            }
        }

        "accumulateRows: rows 1..9, every value width, accumulator rescaling [$kn]" {
            val rng = Random(44)
            for (dv in sizes) for (rows in 1..9) for (scaled in listOf(false, true)) {
                val n = 1 + rng.nextInt(12)
                val pStride = n + 2; val vStride = dv + 3; val oStride = dv + 1
                val p = FloatArray(rows * pStride) { abs(rng.nextGaussian().toFloat()) }
                p[0] = 0f // a hidden key
                val v = floats(rng, n * vStride + 2)
                val o = floats(rng, rows * oStride + 1)
                val before = o.copyOf()
                // factors as the online softmax gives them: 1 (max unchanged), 0 (row was empty), in between
                val oScale = if (scaled) FloatArray(rows) { listOf(1f, 0f, 0.375f, rng.nextFloat())[it % 4] } else null
                k.accumulateRows(rows, n, dv, p, 0, pStride, v, 2, vStride, o, 1, oStride, oScale)
                for (r in 0 until rows) for (e in 0 until dv) {
                    val f = oScale?.get(r)?.toDouble() ?: 1.0
                    var exact = f * before[1 + r * oStride + e]; var mag = abs(exact)
                    for (c in 0 until n) { val t = p[r * pStride + c].toDouble() * v[2 + c * vStride + e]; exact += t; mag += abs(t) }
                    close("dv=$dv rows=$rows r=$r e=$e", o[1 + r * oStride + e], exact, mag, n)
                }
                o[0] shouldBe before[0]
            }
        }

        "onlineSoftmax: rows 1..9, strided state, hidden keys, empty rows, growing and stale maxima [$kn]" {
            val rng = Random(47)
            for (n in sizes) for (rows in 1..9) {
                val sStride = n + 3; val stStride = 2
                val s = FloatArray(rows * sStride + 2) { rng.nextGaussian().toFloat() * 4 }
                for (r in 0 until rows) for (c in 0 until n) if (rng.nextInt(5) == 0) s[1 + r * sStride + c] = Float.NEGATIVE_INFINITY
                if (rows > 2) for (c in 0 until n) s[1 + 2 * sStride + c] = Float.NEGATIVE_INFINITY // a row with every key hidden
                // running state: row 0 empty so far, the others with a max below, near or above this tile's
                val m = FloatArray(1 + rows * stStride) { 42f }
                val l = FloatArray(1 + rows * stStride) { 42f }
                for (r in 0 until rows) {
                    m[1 + r * stStride] = if (r % 4 == 0) Float.NEGATIVE_INFINITY else listOf(-3f, 0.5f, 9f)[r % 3]
                    l[1 + r * stStride] = if (r % 4 == 0) 0f else 1f + r
                }
                val s0 = s.copyOf(); val m0 = m.copyOf(); val l0 = l.copyOf()
                val alpha = FloatArray(rows) { -1f }
                k.onlineSoftmax(rows, n, s, 1, sStride, m, l, 1, stStride, alpha)
                for (r in 0 until rows) {
                    val i = 1 + r * stStride
                    var t = Double.NEGATIVE_INFINITY
                    for (c in 0 until n) t = max(t, s0[1 + r * sStride + c].toDouble())
                    if (t == Double.NEGATIVE_INFINITY) {
                        alpha[r] shouldBe 1f; m[i] shouldBe m0[i]; l[i] shouldBe l0[i]
                        for (c in 0 until n) s[1 + r * sStride + c] shouldBe 0f
                        continue
                    }
                    val mNew = max(m0[i].toDouble(), t)
                    m[i].toDouble() shouldBe mNew
                    val diff = m0[i] - mNew
                    val a = exp(diff) // 0 while the row was empty
                    // the exp's ulp plus the rounding of m - M if a kernel subtracts in float
                    val aTol = (2.5e-7 + 6e-8 * abs(diff)) * a
                    if (m0[i] == Float.NEGATIVE_INFINITY) alpha[r] shouldBe 0f
                    else if (m0[i].toDouble() == mNew) alpha[r] shouldBe 1f
                    else check(abs(alpha[r] - a) <= aTol) { "alpha r=$r: ${alpha[r]} vs $a" }
                    var sum = 0.0
                    for (c in 0 until n) {
                        val x = s0[1 + r * sStride + c]
                        val p = exp((x - m[i]).toDouble())
                        sum += p
                        if (x == Float.NEGATIVE_INFINITY) s[1 + r * sStride + c] shouldBe 0f
                        else check(abs(s[1 + r * sStride + c] - p) <= 2.5e-7 * p) { "p n=$n r=$r c=$c: ${s[1 + r * sStride + c]} vs $p" }
                    }
                    close("l n=$n rows=$rows r=$r", l[i], l0[i] * a + sum, l0[i] * a + sum, n + 2)
                }
                m[0] shouldBe 42f; l[0] shouldBe 42f; s[0] shouldBe s0[0] // nothing outside the rows and the state
                for (r in 0 until rows) for (c in n until sStride) if (1 + r * sStride + c < s.size) s[1 + r * sStride + c] shouldBe s0[1 + r * sStride + c]
            }
        }

        "max, expShiftSum (-inf gives 0), softcap, scaleInto, axpy, addStrided [$kn]" {
            val rng = Random(45)
            for (n in sizes) {
                val a = FloatArray(n + 2) { rng.nextGaussian().toFloat() * 3 }
                for (i in 0 until n step 3) a[1 + i] = Float.NEGATIVE_INFINITY
                var m = Float.NEGATIVE_INFINITY
                for (i in 0 until n) m = max(m, a[1 + i])
                k.max(a, 1, n) shouldBe m

                val shift = if (m == Float.NEGATIVE_INFINITY) 0f else m
                val e = a.copyOf()
                val sum = k.expShiftSum(e, 1, n, shift)
                var exactSum = 0.0
                for (i in 0 until n) {
                    val x = exp((a[1 + i] - shift).toDouble()) // the kernels subtract in float, then exponentiate
                    exactSum += x
                    if (a[1 + i] == Float.NEGATIVE_INFINITY) e[1 + i] shouldBe 0f
                    else check(abs(e[1 + i] - x) <= 2.5e-7 * x) // float rounding plus the exp's 1 ulp { "exp n=$n i=$i: ${e[1 + i]} vs $x" }
                }
                close("exp sum n=$n", sum, exactSum, exactSum, n)

                val c = FloatArray(n) { rng.nextGaussian().toFloat() * 20 }
                val capped = c.copyOf()
                k.softcap(capped, 0, n, 7f)
                for (i in 0 until n) {
                    val x = 7.0 * tanh(c[i] / 7.0)
                    check(abs(capped[i] - x) <= 1e-6 * 7) { "softcap n=$n i=$i: ${capped[i]} vs $x" }
                }

                val x = floats(rng, n + 1); val y = floats(rng, n + 2)
                val y0 = y.copyOf()
                k.axpy(1.5f, x, 1, y, 2, n)
                for (i in 0 until n) close("axpy", y[2 + i], y0[2 + i] + 1.5 * x[1 + i], abs(y0[2 + i].toDouble()) + abs(1.5 * x[1 + i]), 1)
                val into = FloatArray(n + 3)
                k.scaleInto(x, 1, n, 3f, into, 3)
                for (i in 0 until n) into[3 + i] shouldBe 3f * x[1 + i]

                for (stride in listOf(0, 1, 3)) {
                    val src = floats(rng, 3 * n + 2)
                    val t = floats(rng, n)
                    val t0 = t.copyOf()
                    k.addStrided(t, 0, n, src, 2, stride)
                    for (i in 0 until n) t[i] shouldBe t0[i] + src[2 + i * stride]
                }
            }
        }
    }

    "lookup honours -Dattn4j.cpu.vector=false and picks the Vector API when the module is present" {
        val forced = CpuKernels.lookup("false")
        forced.kernels().shouldBeInstanceOf<ScalarCpuKernels>()
        forced.isVector shouldBe false
        forced.reason() shouldContain "attn4j.cpu.vector=false"
        // surefire starts this JVM with --add-modules jdk.incubator.vector (parent pom argLine)
        ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent shouldBe true
        val chosen = CpuKernels.lookup(null)
        chosen.isVector shouldBe true
        chosen.kernels().name() shouldContain "vector"
        CpuKernels.lookup("true").isVector shouldBe true
    }

    "the scalar kernels run without the incubator module (constructed directly, as the fallback does)" {
        // ScalarCpuKernels has no reference to jdk.incubator.vector: a plan on it computes attention on its own
        val spec = AttentionSpec.builder(2, 1, 3).causal().build()
        checkKernel(CpuBackend(ScalarCpuKernels.INSTANCE, CpuTuning.DEFAULT), "scalar only", spec, qkv(Random(46), spec, 1, 4, 4))
        ScalarCpuKernels::class.java.declaredMethods.flatMap { it.parameterTypes.toList() + it.returnType }
            .none { it.name.startsWith("jdk.incubator") } shouldBe true
    }

    "ServiceLoader finds the cpu backend: float32, every feature supported, float32 caches" {
        val cpu = Backends.byName("cpu")
        cpu.shouldBeInstanceOf<CpuBackend>()
        cpu.precision() shouldBe Precision.FLOAT32
        cpu.isAvailable shouldBe true
        val spec = AttentionSpec.builder(8, 2, 64).causal().softcap(3.0).window(4, 4).build()
        val all = org.attn4j.api.OptionalInput.entries.toTypedArray()
        cpu.support(AttentionProblem.of(spec, 2, 10, 20, *all)).isSupported shouldBe true
        cpu.support(AttentionProblem.of(spec, 1, 0, 0)).isSupported shouldBe true
        cpu.newKvCache(2, 2, 16, 64, 64).dtype() shouldBe DType.FLOAT32
    }
})
