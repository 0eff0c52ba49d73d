package org.attn4j.kernels.gpu;

import org.attn4j.api.DType;

/** The arithmetic a program is compiled for: {@code REAL} is {@code float} or {@code double} in the OpenCL source. */
enum RealType {
    FLOAT32(4, "-D REAL=float", DType.FLOAT32),
    FLOAT64(8, "-D REAL=double -D USE_FP64=1", DType.FLOAT64);

    final int bytes;
    final String defines;
    final DType dtype;

    RealType(int bytes, String defines, DType dtype) {
        this.bytes = bytes;
        this.defines = defines;
        this.dtype = dtype;
    }
}
