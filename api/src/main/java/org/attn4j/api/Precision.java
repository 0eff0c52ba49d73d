package org.attn4j.api;

/** The arithmetic a backend computes in; its outputs have the matching dtype. */
public enum Precision {
    FLOAT32, FLOAT64;

    public DType dtype() {
        return this == FLOAT32 ? DType.FLOAT32 : DType.FLOAT64;
    }
}
