package org.attn4j.kernels.gpu

import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.ContiguousKvCache
import org.attn4j.api.DType
import org.attn4j.api.KvCache
import org.attn4j.api.KvCacheSpec
import org.attn4j.api.PlanOptions
import java.util.Locale
import kotlin.random.Random

/**
 * D1 decode on opencl (B 1, 32/8 heads, d 128, 16384 cached tokens; docs/PERFORMANCE.md) over a host
 * ContiguousKvCache (uploaded on every decode, the path before device caches) and over device caches of each storage
 * type, timed in one JVM: median of `reps` calls after 2 warm-ups. Not a test; run by hand (kernels-gpu/README.md):
 * `java ... org.attn4j.kernels.gpu.DecodeTiming [reps] [kvLen]`.
 */
object DecodeTiming {
    @JvmStatic
    fun main(args: Array<String>) {
        val reps = args.getOrNull(0)?.toInt() ?: 7
        val kvLen = args.getOrNull(1)?.toInt() ?: 16384
        val spec = AttentionSpec.builder(32, 8, 128).causal().build()
        val gpu = OpenClBackend()
        println("device: ${gpu.deviceDescription().orElse("unavailable: " + gpu.unavailableReason().orElse(""))}")
        val r = Random(1)
        val q = TestData.floats(r, 1, 32, 1, 128)
        val chunk = 1024
        val ks = (0 until kvLen / chunk).map { TestData.floats(r, 1, 8, chunk, 128) }
        val vs = (0 until kvLen / chunk).map { TestData.floats(r, 1, 8, chunk, 128) }
        fun fill(c: KvCache): KvCache {
            for (i in ks.indices) c.append(ks[i], vs[i])
            return c
        }
        val cs = KvCacheSpec(DType.FLOAT32, 1, 8, kvLen, 128, 128)
        gpu.plan(AttentionProblem.of(spec, 1, 1, kvLen), PlanOptions.defaults()).use { plan ->
            fun time(name: String, cache: KvCache): Double {
                repeat(2) { plan.decode(q, cache) }
                val ms = DoubleArray(reps) {
                    val t0 = System.nanoTime()
                    plan.decode(q, cache)
                    (System.nanoTime() - t0) / 1e6
                }.sorted()
                val median = if (reps % 2 == 1) ms[reps / 2] else (ms[reps / 2 - 1] + ms[reps / 2]) / 2
                val mb = cs.withDtype(cache.dtype()).bytes() / 1e6
                println(String.format(Locale.ROOT, "%-32s median %8.2f ms  (min %.2f, max %.2f; cache %.1f MB)",
                    name, median, ms.first(), ms.last(), mb))
                return median
            }
            val host = time("D1 host ContiguousKvCache f32", fill(ContiguousKvCache(cs)))
            val results = linkedMapOf<String, Double>()
            for (t in listOf(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.INT8)) {
                val c = fill(gpu.newKvCache(cs.withDtype(t))) as OpenClKvCache
                results["D1 device $t"] = time("D1 device cache $t", c)
                c.close()
                val p = fill(gpu.newPagedKvCache(cs.withDtype(t), 16, kvLen / 16))
                results["D1 device paged16 $t"] = time("D1 device paged16 $t", p)
                (p as OpenClKvCache).close()
            }
            val f32 = results.getValue("D1 device FLOAT32")
            for ((name, ms) in results) {
                println(String.format(Locale.ROOT, "%-32s %.3fx host f32, %.3fx device f32", name, ms / host, ms / f32))
            }
        }
    }
}
