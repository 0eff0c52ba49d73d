package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import static org.lwjgl.opencl.CL10.*;

/**
 * An OpenCL context and in-order queue on one device, with the programs built for it (one per {@link RealType} and
 * {@link KvType} in use, built on first use and cached, so every plan on this device shares them).
 *
 * <p>Reference counted: the owner (a backend) holds one reference, every plan retains one while open; the last
 * {@link #release()} releases the programs, a dummy buffer, the queue and the context. Every object created
 * here is counted by {@link #tracker()}.
 */
final class ClContext {
    static final String SOURCE_NAME = "attention.cl";
    private static final String BUILD_OPTIONS = "-cl-std=CL1.2 ";

    private final ClDevice device;
    private final ClTracker tracker;
    private final String kernelSource;
    private final long context;
    private final long queue;
    private final long dummy;
    private final Map<String, Long> programs = new HashMap<>();
    private int references = 1;

    /** Creates the context and queue; throws {@link AttentionException} (having released what it made) on failure. */
    ClContext(ClDevice device, ClTracker tracker) {
        this(device, tracker, null);
    }

    /**
     * As {@link #ClContext(ClDevice, ClTracker)}, with programs built from {@code kernelSource} instead of the
     * {@code attention.cl} resource ({@code null}: the resource). Only mutation testing passes another source.
     */
    ClContext(ClDevice device, ClTracker tracker, String kernelSource) {
        this.device = device;
        this.tracker = tracker;
        this.kernelSource = kernelSource;
        long ctx = 0;
        long q = 0;
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            PointerBuffer props = stack.mallocPointer(3).put(CL_CONTEXT_PLATFORM).put(device.platform()).put(0).flip();
            ctx = clCreateContext(props, device.device(), null, 0, err);
            ClError.check(err.get(0), "clCreateContext on " + device);
            tracker.created(ClTracker.Kind.CONTEXT);
            q = clCreateCommandQueue(ctx, device.device(), 0, err);
            ClError.check(err.get(0), "clCreateCommandQueue on " + device);
            tracker.created(ClTracker.Kind.QUEUE);
            // Absent optional inputs are bound to this one-word buffer: some drivers reject NULL buffer arguments.
            long d = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 16, err);
            ClError.check(err.get(0), "clCreateBuffer");
            tracker.created(ClTracker.Kind.MEM);
            this.context = ctx;
            this.queue = q;
            this.dummy = d;
        } catch (RuntimeException e) {
            if (q != 0) release(ClTracker.Kind.QUEUE, clReleaseCommandQueue(q));
            if (ctx != 0) release(ClTracker.Kind.CONTEXT, clReleaseContext(ctx));
            throw e;
        }
    }

    ClDevice device() {
        return device;
    }

    ClTracker tracker() {
        return tracker;
    }

    long context() {
        return context;
    }

    long queue() {
        return queue;
    }

    /** A small buffer to bind where an optional input is absent (the kernel never reads it). */
    long dummy() {
        return dummy;
    }

    synchronized void retain() {
        if (references <= 0) throw new AttentionException("opencl: the context was already released");
        references++;
    }

    /** Drops one reference; the last one releases every program, the queue and the context. */
    synchronized void release() {
        if (references <= 0) return;
        if (--references > 0) return;
        for (long p : programs.values()) release(ClTracker.Kind.PROGRAM, clReleaseProgram(p));
        programs.clear();
        release(ClTracker.Kind.MEM, clReleaseMemObject(dummy));
        release(ClTracker.Kind.QUEUE, clReleaseCommandQueue(queue));
        release(ClTracker.Kind.CONTEXT, clReleaseContext(context));
    }

    private void release(ClTracker.Kind kind, int status) {
        tracker.released(kind);
        ClError.check(status, "clRelease" + kind);
    }

    /** The program for {@code real}, built on first use; a failed build throws with the compiler's log. */
    long program(RealType real) {
        return program(real, KvType.REAL);
    }

    /** The program for {@code real} whose {@code attend} reads K/V as {@code kv}, built on first use. */
    synchronized long program(RealType real, KvType kv) {
        if (references <= 0) throw new AttentionException("opencl: the context was already released");
        String key = real + "/" + kv;
        Long cached = programs.get(key);
        if (cached != null) return cached;
        if (real == RealType.FLOAT64 && !device.fp64()) {
            throw new AttentionException("opencl: device " + device + " has no cl_khr_fp64; the float64 path is unavailable");
        }
        long program = build(kernelSource != null ? kernelSource : source(), BUILD_OPTIONS + real.defines + kv.defines());
        programs.put(key, program);
        return program;
    }

    /** Builds {@code source} for this device; the caller owns (and must release) the returned program. */
    long build(String source, String options) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long program = clCreateProgramWithSource(context, source, err);
            ClError.check(err.get(0), "clCreateProgramWithSource");
            tracker.created(ClTracker.Kind.PROGRAM);
            int status = clBuildProgram(program, device.device(), options, null, 0);
            if (status != CL_SUCCESS) {
                String log = buildLog(program);
                release(ClTracker.Kind.PROGRAM, clReleaseProgram(program));
                throw new AttentionException("opencl: building the kernels (" + options + ") for " + device + " failed with "
                        + ClError.name(status) + "; build log:\n" + log);
            }
            return program;
        }
    }

    void releaseProgram(long program) {
        release(ClTracker.Kind.PROGRAM, clReleaseProgram(program));
    }

    private String buildLog(long program) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            int s = clGetProgramBuildInfo(program, device.device(), CL_PROGRAM_BUILD_LOG, (ByteBuffer) null, size);
            if (s != CL_SUCCESS) return "(no build log: " + ClError.name(s) + ")";
            ByteBuffer log = org.lwjgl.system.MemoryUtil.memAlloc((int) Math.max(1, size.get(0)));
            try {
                clGetProgramBuildInfo(program, device.device(), CL_PROGRAM_BUILD_LOG, log, null);
                byte[] bytes = new byte[(int) size.get(0)];
                log.get(bytes);
                return new String(bytes, StandardCharsets.UTF_8).replace("\u0000", "").trim();
            } finally {
                org.lwjgl.system.MemoryUtil.memFree(log);
            }
        }
    }

    long createKernel(long program, String name) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long kernel = clCreateKernel(program, name, err);
            ClError.check(err.get(0), "clCreateKernel(" + name + ")");
            tracker.created(ClTracker.Kind.KERNEL);
            return kernel;
        }
    }

    void releaseKernel(long kernel) {
        if (kernel != 0) release(ClTracker.Kind.KERNEL, clReleaseKernel(kernel));
    }

    /** A device buffer of {@code bytes} (>= 1), uninitialised, or filled from {@code host} when given. */
    long createBuffer(long flags, long bytes, ByteBuffer host) {
        if (bytes > device.maxAlloc()) {
            throw new AttentionException("opencl: a buffer of " + bytes + " bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE = "
                    + device.maxAlloc() + " of " + device);
        }
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long mem = host == null ? clCreateBuffer(context, flags, Math.max(bytes, 1), err)
                    : clCreateBuffer(context, flags | CL_MEM_COPY_HOST_PTR, host, err);
            ClError.check(err.get(0), "clCreateBuffer(" + bytes + " bytes)");
            tracker.created(ClTracker.Kind.MEM);
            return mem;
        }
    }

    void releaseBuffer(long mem) {
        if (mem != 0) release(ClTracker.Kind.MEM, clReleaseMemObject(mem));
    }

    private static volatile String source;

    /** The OpenCL C source, read once from the class path. */
    static String source() {
        String s = source;
        if (s != null) return s;
        try (InputStream in = ClContext.class.getResourceAsStream(SOURCE_NAME)) {
            if (in == null) throw new AttentionException("opencl: resource " + SOURCE_NAME + " is missing from the class path");
            s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AttentionException("opencl: reading " + SOURCE_NAME + " failed", e);
        }
        source = s;
        return s;
    }
}
