package org.attn4j.kernels.gpu;

import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;

import static org.lwjgl.opencl.CL10.*;

/** Sets a kernel's arguments in order, checking each call; and launches 1-D / 2-D ranges. */
final class KernelArgs {
    private final long kernel;
    private final String name;
    private final RealType real;
    private int index;

    KernelArgs(long kernel, String name, RealType real) {
        this.kernel = kernel;
        this.name = name;
        this.real = real;
    }

    KernelArgs mem(long mem) {
        ClError.check(clSetKernelArg1p(kernel, index, mem), name + ": clSetKernelArg(" + index + ", buffer)");
        index++;
        return this;
    }

    KernelArgs i(int... values) {
        for (int v : values) {
            ClError.check(clSetKernelArg1i(kernel, index, v), name + ": clSetKernelArg(" + index + ", int)");
            index++;
        }
        return this;
    }

    /** A {@code REAL} scalar: float or double, as the program was built. */
    KernelArgs real(double value) {
        int s = real == RealType.FLOAT32 ? clSetKernelArg1f(kernel, index, (float) value) : clSetKernelArg1d(kernel, index, value);
        ClError.check(s, name + ": clSetKernelArg(" + index + ", real)");
        index++;
        return this;
    }

    /** A {@code __local} array of {@code count} reals. */
    KernelArgs local(long count) {
        ClError.check(clSetKernelArg(kernel, index, Math.max(1, count) * real.bytes), name + ": clSetKernelArg(" + index + ", local)");
        index++;
        return this;
    }

    static void launch1d(ClContext ctx, long kernel, String name, long global, long local) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer g = stack.mallocPointer(1).put(0, global);
            PointerBuffer l = stack.mallocPointer(1).put(0, local);
            ClError.check(clEnqueueNDRangeKernel(ctx.queue(), kernel, 1, null, g, l, null, null),
                    "clEnqueueNDRangeKernel(" + name + ", global " + global + ", local " + local + ")");
        }
    }

    static void launch2d(ClContext ctx, long kernel, String name, long global0, long global1, long local0, long local1) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer g = stack.mallocPointer(2).put(0, global0).put(1, global1);
            PointerBuffer l = stack.mallocPointer(2).put(0, local0).put(1, local1);
            ClError.check(clEnqueueNDRangeKernel(ctx.queue(), kernel, 2, null, g, l, null, null),
                    "clEnqueueNDRangeKernel(" + name + ", global " + global0 + "x" + global1 + ")");
        }
    }

    static long roundUp(long n, long multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
}
