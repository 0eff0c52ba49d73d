package org.attn4j.kernels.gpu

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.StringSpec
import io.kotest.core.test.config.DefaultTestConfig
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import org.attn4j.api.AttentionException
import org.attn4j.api.AttentionInputs
import org.attn4j.api.AttentionProblem
import org.attn4j.api.AttentionSpec
import org.attn4j.api.Backends
import org.attn4j.api.DType
import org.attn4j.api.LayerVariant
import org.attn4j.api.PagedKvCache
import org.attn4j.api.PlanOptions
import org.attn4j.api.Precision
import org.attn4j.api.StandardLayerConfig
import org.attn4j.api.StandardLayerWeights
import org.lwjgl.system.Configuration
import org.lwjgl.system.MemoryStack
import org.lwjgl.system.MemoryUtil
import kotlin.random.Random

/** Every OpenCL object and native allocation released; device selection; the unavailable path. */
class OpenClResourceTest : StringSpec({
    defaultTestConfig = DefaultTestConfig(enabledIf = Gpu.enabled)

    /** Native allocations LWJGL's debug allocator holds that were made from attn4j code, by address. */
    fun outstanding(): Map<Long, String> {
        val out = HashMap<Long, String>()
        MemoryUtil.memReport { address, bytes, _, _, stack ->
            val trace = stack?.joinToString(" < ") ?: ""
            if (stack == null || stack.any { it.className.startsWith("org.attn4j") }) out[address] = "$bytes bytes at $trace"
        }
        return out
    }

    fun leakedSince(before: Map<Long, String>) = outstanding().filterKeys { it !in before }.values.toList()

    "the leak checks are armed: LWJGL's debug allocator and the OpenCL object tracker see what is not released" {
        Gpu.require()
        Configuration.DEBUG_MEMORY_ALLOCATOR.get(false) shouldBe true  // set by surefire (org.lwjgl.util.DebugAllocator)
        MemoryStack.stackGet()
        val before = outstanding()
        val leak = MemoryUtil.memAlloc(64)
        try {
            // the report names this allocation only if it came from attn4j code: it came from this test, org.attn4j.kernels.gpu
            leakedSince(before).size shouldBe 1
        } finally {
            MemoryUtil.memFree(leak)
        }
        leakedSince(before).shouldBeEmpty()
        OpenClBackend.withPrivateContext(null).use { gpu ->
            val ctx = gpu.contextForTests()
            val scope = ClScope(ctx)
            scope.alloc(RealType.FLOAT32, 10)
            gpu.tracker().live()[ClTracker.Kind.MEM] shouldBe 2L   // the context's dummy buffer + this one
            scope.close()
            gpu.tracker().live()[ClTracker.Kind.MEM] shouldBe 1L
        }
    }

    "a batch of calls on every path releases every OpenCL object and every native allocation" {
        Gpu.require()
        MemoryStack.stackGet()
        val before = outstanding()
        val gpu = OpenClBackend.withPrivateContext(null)
        val r = Random(51)
        val spec = AttentionSpec.builder(6, 2, 16).causal().build()
        val plan = gpu.plan(AttentionProblem.of(spec, 2, 5, 40), PlanOptions.defaults())
        val split = gpu.plan(AttentionProblem.of(spec, 2, 1, 40), PlanOptions.defaults(), 4)
        try {
            repeat(3) {
                val p = Problem.random(600L + it, 6, 2, 16, 2, 5, 40).copy(spec = spec, sinks = true, biasShape = intArrayOf(40))
                plan.run(p.inputs())
                plan.run(p.inputs(f64 = true))               // the double program, built lazily
                split.run(p.copy(qLen = 1).inputs())
            }
            val cache = PagedKvCache(DType.FLOAT32, 2, 2, 16, 16, 4, 30, 100)
            cache.append(TestData.floats(r, 2, 2, 9, 16), TestData.floats(r, 2, 2, 9, 16))
            split.decode(TestData.floats(r, 2, 6, 1, 16), cache)
            // failures: validation errors and a bad cache must not leave anything behind
            shouldThrow<AttentionException> { plan.run(AttentionInputs.of(TestData.floats(r, 1, 6, 2, 15), TestData.floats(r, 1, 2, 2, 16), TestData.floats(r, 1, 2, 2, 16))) }
            shouldThrow<AttentionException> { split.decode(TestData.floats(r, 2, 6, 1, 16), PagedKvCache(DType.FLOAT32, 2, 3, 16, 16, 4, 4, 8)) }

            val layerConfig = StandardLayerConfig.of(LayerVariant.GQA, 16, 4, 2, 4).withBias(true).withCausal(true)
            fun w(vararg shape: Int) = TestData.floats(r, *shape, scale = 0.3)
            val weights = StandardLayerWeights(w(16, 16), w(16), w(8, 16), w(8), w(8, 16), w(8), w(16, 16), w(16))
            gpu.planLayer(layerConfig, weights, PlanOptions.defaults()).use { layer ->
                layer.forward(TestData.floats(r, 2, 6, 16), null, null)
                val lc = layer.newCache(2, 8)
                layer.step(TestData.floats(r, 2, 5, 16), lc)
                layer.step(TestData.floats(r, 2, 1, 16), lc)
                shouldThrow<AttentionException> { layer.step(TestData.floats(r, 2, 5, 16), lc) } // does not fit
                // a device cache holds its buffers (and the context) until closed
                (lc as OpenClKvCache).close()
                gpu.newPagedKvCache(lc.spec(), 4, 6).use { pc ->
                    pc.append(TestData.floats(r, 2, lc.kvHeads(), 3, lc.headDim()), TestData.floats(r, 2, lc.kvHeads(), 3, lc.headDim()))
                }
            }
            // a build failure releases its program and reports the compiler's log
            val ctx = gpu.contextForTests()
            val programsBefore = gpu.tracker().live()[ClTracker.Kind.PROGRAM]
            val e = shouldThrow<AttentionException> { ctx.build("__kernel void broken(__global float* x) { x[0] = undefined_name; }", "-cl-std=CL1.2") }
            e.message shouldContain "build log"
            e.message shouldContain "undefined_name"
            gpu.tracker().live()[ClTracker.Kind.PROGRAM] shouldBe programsBefore
        } finally {
            gpu.close()          // the plans keep the context alive until they close too
            plan.run(Problem(spec, 1, 2, 3, seed = 1).inputs())
            plan.close()
            split.close()
            plan.close()         // idempotent
        }
        withClue("live OpenCL objects after closing: ${gpu.tracker().live()}") {
            gpu.tracker().live().values.all { it == 0L } shouldBe true
        }
        val total = gpu.tracker().total()
        total[ClTracker.Kind.CONTEXT] shouldBe 1L
        total[ClTracker.Kind.QUEUE] shouldBe 1L
        total[ClTracker.Kind.PROGRAM]!! shouldBeGreaterThan 2L    // float, double, and the failed build
        total[ClTracker.Kind.KERNEL]!! shouldBeGreaterThan 6L
        total[ClTracker.Kind.MEM]!! shouldBeGreaterThan 50L
        leakedSince(before).shouldBeEmpty()
        shouldThrow<AttentionException> { plan.run(Problem(spec, 1, 2, 3, seed = 1).inputs()) }.message shouldContain "closed"
    }

    "no matching device: unavailable with the reason, never a throw from name or unavailableReason" {
        val missing = OpenClBackend.withPrivateContext("nonexistent")
        missing.name() shouldBe "opencl"
        missing.precision() shouldBe Precision.FLOAT32
        missing.isAvailable() shouldBe false
        missing.unavailableReason().get() shouldContain "no OpenCL device matches 'nonexistent'"
        val problem = AttentionProblem.of(AttentionSpec.of(2, 1, 4), 1, 1, 1)
        missing.support(problem).reasons().single() shouldContain "no OpenCL device matches 'nonexistent'"
        shouldThrow<AttentionException> { missing.plan(problem, PlanOptions.defaults()) }.message shouldContain "nonexistent"
        missing.supportLayer(StandardLayerConfig.of(LayerVariant.MHA, 8, 2, 2, 4)).isSupported() shouldBe false
        missing.close()
        // the same through the system property the public (ServiceLoader) constructor reads
        val saved = System.getProperty(OpenClBackend.DEVICE_PROPERTY)
        System.setProperty(OpenClBackend.DEVICE_PROPERTY, "nonexistent")
        try {
            OpenClBackend().unavailableReason().get() shouldContain "no OpenCL device matches 'nonexistent'"
        } finally {
            if (saved == null) System.clearProperty(OpenClBackend.DEVICE_PROPERTY) else System.setProperty(OpenClBackend.DEVICE_PROPERTY, saved)
        }
    }

    "no OpenCL library at all: unavailable with the reason (a child JVM pointed at a missing libOpenCL)" {
        val java = ProcessHandle.current().info().command().orElse("java")
        val process = ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Dorg.lwjgl.opencl.libname=/nonexistent/libOpenCL.so", "-cp", System.getProperty("java.class.path"),
            PrintAvailability::class.java.name).redirectErrorStream(true).start()
        val output = process.inputStream.bufferedReader().readText()
        process.waitFor() shouldBe 0
        withClue(output) {
            output shouldContain "name=opencl"
            output shouldContain "reason=the OpenCL library could not be loaded"
        }
    }

    "device selection by platform:device index and by a name substring; ServiceLoader finds the backend" {
        val gpu = Gpu.require()
        val description = gpu.deviceDescription().get()
        val index = description.substringBefore(' ')
        val name = description.substringAfter('\'').substringBefore('\'')
        OpenClBackend.withPrivateContext(index).use { it.deviceDescription().get() shouldBe description }
        OpenClBackend.withPrivateContext(name.takeLast(6).uppercase()).use { it.isAvailable() shouldBe true }
        Backends.byName("opencl").shouldBeInstanceOf<OpenClBackend>()
        Backends.available().map { it.name() }.contains("opencl") shouldBe true
    }
})

