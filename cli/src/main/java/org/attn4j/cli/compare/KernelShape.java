package org.attn4j.cli.compare;

import org.attn4j.api.AttentionSpec;
import org.attn4j.bench.Workload;

/**
 * One kernel that is timed for a variant.
 *
 * @param spec         the attention exactly as the layer runs it (window, softcap and alignment included)
 * @param workload     the same shape as a bench workload: its FLOP and byte formulas are the ones {@code attn bench} uses
 * @param description  e.g. {@code prefill B=1 L=512, 32/8 heads, d=128, causal}
 * @param vIsKeyPrefix absorbed MLA decode: the values are the first {@code vHeadDim} columns of the keys (one latent)
 */
public record KernelShape(Phase phase, AttentionSpec spec, Workload workload, String description, boolean vIsKeyPrefix) {
    public int qLen() {
        return workload.qLen();
    }

    public int kvLen() {
        return workload.kvLen();
    }
}
