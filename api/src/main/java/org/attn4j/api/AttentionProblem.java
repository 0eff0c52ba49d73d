package org.attn4j.api;

import java.util.EnumSet;
import java.util.Set;

/**
 * A spec together with the sizes and the optional inputs of a call: what {@link AttentionBackend#support}
 * judges and {@link AttentionBackend#plan} tiles for.
 *
 * @param spec     what is computed
 * @param batch    {@code B}
 * @param qLen     queries per sequence
 * @param kvLen    keys per sequence (the padded length when {@code KV_LENS} is given)
 * @param inputs   the optional tensors that will be passed
 */
public record AttentionProblem(AttentionSpec spec, int batch, int qLen, int kvLen, Set<OptionalInput> inputs) {

    public AttentionProblem {
        AttentionException.require(spec != null, "spec", "a spec", "null");
        AttentionException.require(batch >= 1, "batch", ">= 1", batch);
        AttentionException.require(qLen >= 0, "qLen", ">= 0", qLen);
        AttentionException.require(kvLen >= 0, "kvLen", ">= 0", kvLen);
        inputs = inputs == null || inputs.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(inputs));
    }

    public static AttentionProblem of(AttentionSpec spec, int batch, int qLen, int kvLen, OptionalInput... inputs) {
        return new AttentionProblem(spec, batch, qLen, kvLen,
                inputs.length == 0 ? Set.of() : EnumSet.copyOf(java.util.Arrays.asList(inputs)));
    }

    public boolean has(OptionalInput input) {
        return inputs.contains(input);
    }

    /** The features this problem needs (spec options and optional inputs). */
    public Set<Feature> features() {
        EnumSet<Feature> f = EnumSet.noneOf(Feature.class);
        if (spec.kvHeads() != spec.qHeads()) f.add(Feature.GROUPED_HEADS);
        if (spec.causal()) f.add(Feature.CAUSAL);
        if ((spec.causal() || spec.hasWindow()) && spec.alignment() == Alignment.TOP_LEFT) f.add(Feature.TOP_LEFT);
        if (spec.hasWindow()) f.add(Feature.WINDOW);
        if (spec.hasSoftcap()) f.add(Feature.SOFTCAP);
        if (spec.scale().isPresent()) f.add(Feature.CUSTOM_SCALE);
        if (spec.vHeadDim() != spec.headDim()) f.add(Feature.V_HEAD_DIM);
        if (has(OptionalInput.BIAS)) f.add(Feature.BIAS);
        if (has(OptionalInput.MASK)) f.add(Feature.MASK);
        if (has(OptionalInput.ALIBI_SLOPES)) f.add(Feature.ALIBI);
        if (has(OptionalInput.SINKS)) f.add(Feature.SINKS);
        if (has(OptionalInput.KV_LENS)) f.add(Feature.KV_LENS);
        if (has(OptionalInput.SCORE_MOD)) f.add(Feature.SCORE_MOD);
        if (has(OptionalInput.MASK_MOD)) f.add(Feature.MASK_MOD);
        if (qLen == 0 || kvLen == 0) f.add(Feature.EMPTY);
        return f;
    }
}
