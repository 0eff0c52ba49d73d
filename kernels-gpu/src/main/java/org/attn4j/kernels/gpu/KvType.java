package org.attn4j.kernels.gpu;

import org.attn4j.api.DType;

/**
 * How the {@code attend} kernel reads K and V: in {@code REAL} (float or double, as the program is built), or in a
 * reduced storage type converted to float inside the kernel ({@code -D KV_TYPE=code} in {@code attention.cl}). One
 * program is built per (RealType, KvType) in use.
 */
enum KvType {
    REAL(0, 0),
    /** IEEE binary16 read with {@code vload_half} (core OpenCL 1.2). */
    FLOAT16(1, 2),
    /** The upper 16 bits of a float, widened by a shift. */
    BFLOAT16(2, 2),
    /** {@code char} times the row's float scale (a second buffer, one float per token and KV head). */
    INT8(3, 1);

    final int code;
    /** Bytes per stored element (0: those of the program's REAL). */
    final int bytes;

    KvType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    String defines() {
        return " -D KV_TYPE=" + code;
    }

    /**
     * The type the kernel reads a K/V buffer of {@code stored} elements in, on the {@code real} path; {@code null}
     * when it cannot read it as stored (float64 on the float32 path, or a reduced or float32 type on the float64
     * path): the caller converts on the host then.
     */
    static KvType readable(DType stored, RealType real) {
        if (stored == real.dtype) return REAL;
        if (real != RealType.FLOAT32) return null;
        return switch (stored) {
            case FLOAT16 -> FLOAT16;
            case BFLOAT16 -> BFLOAT16;
            case INT8 -> INT8;
            default -> null;
        };
    }
}
