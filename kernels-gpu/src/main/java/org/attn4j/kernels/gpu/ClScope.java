package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.HalfTensor;
import org.attn4j.api.Int8Tensor;
import org.attn4j.api.Tensor;
import org.lwjgl.system.MemoryUtil;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.lwjgl.opencl.CL10.*;

/**
 * The device buffers of one call: everything created through a scope is released by {@link #close()}, on every
 * path (use try-with-resources). Host staging memory is freed before each method returns.
 */
final class ClScope implements AutoCloseable {
    private final ClContext ctx;
    private final List<Long> buffers = new ArrayList<>();

    ClScope(ClContext ctx) {
        this.ctx = ctx;
    }

    ClContext context() {
        return ctx;
    }

    /** An uninitialised device buffer of {@code count} reals (or the dummy when {@code count == 0}). */
    long alloc(RealType real, long count) {
        if (count == 0) return ctx.dummy();
        return track(ctx.createBuffer(CL_MEM_READ_WRITE, checkedBytes(count, real.bytes), null));
    }

    /** Uploads {@code t} as a contiguous row-major array of {@code real} (read-only on the device). */
    long upload(Tensor t, RealType real) {
        int n = t.elementCount();
        if (n == 0) return ctx.dummy();
        ByteBuffer host = MemoryUtil.memAlloc(checkedBytes(n, real.bytes));
        try {
            if (real == RealType.FLOAT32) {
                var fb = host.asFloatBuffer();
                if (t instanceof FloatTensor f && f.isContiguous()) fb.put(f.data(), f.offset(), n);
                else fb.put(t.toFloatArray());
            } else {
                var db = host.asDoubleBuffer();
                if (t instanceof DoubleTensor d && d.isContiguous()) db.put(d.data(), d.offset(), n);
                else db.put(t.toDoubleArray());
            }
            return track(ctx.createBuffer(CL_MEM_READ_ONLY, host.remaining(), host));
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    /**
     * Uploads {@code t} as the kernel reads it on the {@code real} path: in its stored type (float16 / bfloat16 bits,
     * int8 bytes plus a float scale per row of the last axis) when {@link KvType#readable} says the kernel converts
     * it, else widened or narrowed to {@code real} on the host (exact for every reduced type; float64 to float32 is
     * rounded, as any float32 upload).
     */
    DeviceInputs.Stored uploadStored(Tensor t, RealType real) {
        KvType type = KvType.readable(t.dtype(), real);
        int width = t.rank() == 0 ? 1 : Math.max(1, t.size(t.rank() - 1));
        if (type == null || type == KvType.REAL) return new DeviceInputs.Stored(upload(t, real), 0, KvType.REAL, width);
        int n = t.elementCount();
        if (n == 0) return new DeviceInputs.Stored(ctx.dummy(), type == KvType.INT8 ? ctx.dummy() : 0, type, width);
        if (t instanceof Int8Tensor i8) {
            Int8Tensor c = contiguousRows(i8);
            if (c == null) return new DeviceInputs.Stored(upload(t, real), 0, KvType.REAL, width); // rows span scales
            long data = uploadBytes(c.data(), c.offset(), n);
            long scales = upload(FloatTensor.of(rowScales(c), n / width), RealType.FLOAT32);
            return new DeviceInputs.Stored(data, scales, type, width);
        }
        HalfTensor h = (HalfTensor) t;
        HalfTensor c = h.isContiguous() ? h : h.copy();
        ByteBuffer host = MemoryUtil.memAlloc(checkedBytes(n, 2));
        try {
            host.asShortBuffer().put(c.bits(), c.offset(), n);
            return new DeviceInputs.Stored(track(ctx.createBuffer(CL_MEM_READ_ONLY, host.remaining(), host)), 0, type, width);
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    /** {@code t} contiguous with one scale per row of its last axis, or {@code null} when a row spans several scales. */
    private static Int8Tensor contiguousRows(Int8Tensor t) {
        if (t.isContiguous() && t.offset() % t.rowPitch() == 0 && t.rowPitch() == t.size(t.rank() - 1)) return t;
        try {
            return t.copy();
        } catch (AttentionException e) {
            return null; // a view whose last axis is not the row axis: the caller widens it on the host instead
        }
    }

    /** The scales of a contiguous int8 tensor whose rows are its last axis, one per row from its offset. */
    private static float[] rowScales(Int8Tensor t) {
        int width = t.rowPitch();
        int rows = t.elementCount() / width;
        float[] out = new float[rows];
        System.arraycopy(t.scales(), t.offset() / width, out, 0, rows);
        return out;
    }

    private long uploadBytes(byte[] data, int offset, int n) {
        ByteBuffer host = MemoryUtil.memAlloc(n);
        try {
            host.put(data, offset, n).flip();
            return track(ctx.createBuffer(CL_MEM_READ_ONLY, n, host));
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    /** Uploads a bool tensor as one byte per element (1 = true), contiguous row-major. */
    long uploadBools(BoolTensor t) {
        int n = t.elementCount();
        if (n == 0) return ctx.dummy();
        ByteBuffer host = MemoryUtil.memAlloc(n);
        try {
            double[] values = t.toDoubleArray();
            for (int i = 0; i < n; i++) host.put(i, (byte) (values[i] != 0 ? 1 : 0));
            return track(ctx.createBuffer(CL_MEM_READ_ONLY, n, host));
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    long uploadInts(int[] values) {
        if (values.length == 0) return ctx.dummy();
        ByteBuffer host = MemoryUtil.memAlloc(checkedBytes(values.length, 4));
        try {
            host.asIntBuffer().put(values);
            return track(ctx.createBuffer(CL_MEM_READ_ONLY, host.remaining(), host));
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    /** Reads {@code count} floats (blocking; the in-order queue has finished every earlier command). */
    float[] readFloats(long mem, int count) {
        float[] out = new float[count];
        if (count == 0) return out;
        ByteBuffer host = MemoryUtil.memAlloc(checkedBytes(count, 4));
        try {
            ClError.check(clEnqueueReadBuffer(ctx.queue(), mem, true, 0, host, null, null), "clEnqueueReadBuffer");
            host.asFloatBuffer().get(out);
            return out;
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    double[] readDoubles(long mem, int count) {
        double[] out = new double[count];
        if (count == 0) return out;
        ByteBuffer host = MemoryUtil.memAlloc(checkedBytes(count, 8));
        try {
            ClError.check(clEnqueueReadBuffer(ctx.queue(), mem, true, 0, host, null, null), "clEnqueueReadBuffer");
            host.asDoubleBuffer().get(out);
            return out;
        } finally {
            MemoryUtil.memFree(host);
        }
    }

    /** Reads a device array of {@code real} into a new contiguous tensor of {@code shape} and that dtype. */
    Tensor readTensor(long mem, RealType real, int... shape) {
        int n = Tensor.elementCount(shape);
        return real == RealType.FLOAT32 ? FloatTensor.of(readFloats(mem, n), shape) : DoubleTensor.of(readDoubles(mem, n), shape);
    }

    private long track(long mem) {
        buffers.add(mem);
        return mem;
    }

    static int checkedBytes(long count, int elementBytes) {
        long bytes = count * elementBytes;
        if (bytes > Integer.MAX_VALUE - 16) {
            throw new AttentionException("opencl: " + count + " elements (" + bytes + " bytes) are too many for one buffer");
        }
        return (int) bytes;
    }

    /** Releases every buffer of this scope (after waiting for the queue, so no kernel still uses them). */
    @Override
    public void close() {
        RuntimeException first = null;
        try {
            clFinish(ctx.queue());
        } catch (RuntimeException e) {
            first = e;
        }
        for (long mem : buffers) {
            try {
                ctx.releaseBuffer(mem);
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        buffers.clear();
        if (first != null) throw first;
    }
}
