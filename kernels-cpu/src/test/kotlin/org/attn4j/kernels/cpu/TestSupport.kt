package org.attn4j.kernels.cpu

import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionOutput
import org.attn4j.api.AttentionSpec
import org.attn4j.api.FloatTensor
import org.attn4j.api.PlanOptions
import org.attn4j.api.Tensor
import org.attn4j.reference.Naive32
import org.attn4j.reference.ReferenceAttention
import java.util.Random
import kotlin.math.abs
import kotlin.math.max

/** The two kernel implementations every accuracy test runs on (the vector one needs --add-modules, set by the pom). */
object Kernels {
    val scalar: CpuKernelSupport = ScalarCpuKernels.INSTANCE
    val vector: CpuKernelSupport = CpuKernels.lookup(null).kernels()
    val both: List<CpuKernelSupport> = listOf(scalar, vector)

    fun backends(tuning: CpuTuning = CpuTuning.DEFAULT): List<CpuBackend> = both.map { CpuBackend(it, tuning) }
}

/** Small tiles so that tile edges (±1) are cheap to reach: 8 query rows per item, 16-key tiles, transposed from 8 rows. */
val SMALL_TILES = CpuTuning(8, 16, 8, 32, 16, 64)

/** Forces many KV splits: every problem is cut into up to 64 splits of >= 1 tile of 8 keys. */
val MANY_SPLITS = CpuTuning(8, 8, 1_000_000, 100_000, 1, 64)

fun randn(rng: Random, vararg shape: Int, scale: Double = 1.0): FloatTensor =
    FloatTensor.of(FloatArray(Tensor.elementCount(*shape)) { (rng.nextGaussian() * scale).toFloat() }, *shape)

fun options(threads: Int = 2) = PlanOptions(threads, true, PlanOptions.MlaPath.ABSORBED)

/**
 * FlashAttention's accuracy rule, element-wise: |cpu - ref64| <= 2 |naive32 - ref64| + 1e-6, plus an absolute
 * sanity bound of 1e-4 times the largest |ref64| (so a bad naive32 cannot hide a bad kernel). Equal
 * infinities match (lse of empty rows); NaN never matches.
 *
 * [elementwise] false applies the first bound as FlashAttention's tests do, to the tensor-wide maxima
 * (max |cpu - ref64| <= 2 max |naive32 - ref64| + 1e-6): with scores of tens, each element's error is
 * dominated by the rounding of its scores (|s| * 2^-24), which differs per element between any two
 * summation orders, so only the maxima are comparable.
 */
fun assertAccurate(label: String, got: Tensor?, ref: Tensor, naive: FloatArray, elementwise: Boolean = true) {
    requireNotNull(got) { "$label: missing" }
    check(got.shape().contentEquals(ref.shape())) { "$label: shape ${got.shape().contentToString()} != ${ref.shape().contentToString()}" }
    check(got.dtype() == org.attn4j.api.DType.FLOAT32) { "$label: dtype ${got.dtype()}" }
    val g = got.toDoubleArray(); val r = ref.toDoubleArray()
    var maxAbs = 0.0
    for (x in r) if (x.isFinite()) maxAbs = max(maxAbs, abs(x))
    val sanity = 1e-4 * maxAbs + 1e-7
    var maxNaiveErr = 0.0
    for (i in g.indices) if (r[i].isFinite()) maxNaiveErr = max(maxNaiveErr, abs(naive[i] - r[i]))
    var failures = 0; var first = ""
    for (i in g.indices) {
        val ok = if (r[i].isInfinite() || g[i].isInfinite() || g[i].isNaN()) g[i] == r[i] else {
            val err = abs(g[i] - r[i])
            val baseline = if (elementwise) abs(naive[i] - r[i]) else maxNaiveErr
            err <= 2 * baseline + 1e-6 && err <= sanity
        }
        if (!ok) {
            if (failures++ == 0) first = "index $i: cpu ${g[i]} ref64 ${r[i]} naive32 ${naive[i]} (err ${abs(g[i] - r[i])}, naive err ${abs(naive[i] - r[i])}, sanity $sanity)"
        }
    }
    check(failures == 0) { "$label: $failures of ${g.size} elements off; first at $first" }
}

/** |got - ref| <= atol + rtol |ref| element-wise (FORMAT.md's default float32 tolerance is atol 1e-5, rtol 1e-4). */
fun assertClose(label: String, got: Tensor, ref: Tensor, atol: Double = 1e-5, rtol: Double = 1e-4) {
    check(got.shape().contentEquals(ref.shape())) { "$label: shape ${got.shape().contentToString()} != ${ref.shape().contentToString()}" }
    val g = got.toDoubleArray(); val r = ref.toDoubleArray()
    var failures = 0; var first = ""
    for (i in g.indices) {
        val ok = if (r[i].isInfinite() || g[i].isInfinite()) g[i] == r[i] else abs(g[i] - r[i]) <= atol + rtol * abs(r[i])
        if (!ok && failures++ == 0) first = "index $i: got ${g[i]} ref ${r[i]}"
    }
    check(failures == 0) { "$label: $failures of ${g.size} elements off; first at $first" }
}

/** Runs one kernel case on a backend and checks out and lse against the float64 reference with the accuracy rule. */
fun checkKernel(backend: CpuBackend, label: String, spec: AttentionSpec, inputs: AttentionInputs, threads: Int = 2,
                elementwise: Boolean = true): AttentionOutput {
    val problem = inputs.validate(spec)
    val ref = ReferenceAttention.attend(spec, inputs)
    val naive = Naive32.attend(spec, inputs)
    backend.plan(problem, options(threads)).use { plan ->
        val got = plan.run(inputs)
        val name = "$label [${backend.kernels().name()}]"
        assertAccurate("$name out", got.out(), ref.out(), naive.out().toFloatArray(), elementwise)
        assertAccurate("$name lse", got.lse(), ref.lse(), naive.lse().toFloatArray(), elementwise)
        return got
    }
}

/** Random q/k/v for a spec. */
fun qkv(rng: Random, spec: AttentionSpec, batch: Int, lq: Int, lk: Int): AttentionInputs = AttentionInputs.of(
    randn(rng, batch, spec.qHeads(), lq, spec.headDim()),
    randn(rng, batch, spec.kvHeads(), lk, spec.headDim()),
    randn(rng, batch, spec.kvHeads(), lk, spec.vHeadDim()),
)
