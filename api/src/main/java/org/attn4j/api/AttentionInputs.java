package org.attn4j.api;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

/**
 * The tensors of one kernel call (FORMAT.md, "kind = kernel"). Required: {@code q}, {@code k}, {@code v};
 * the others are {@code null} when absent. Numeric tensors may be float32 or float64; a float32 backend
 * reads float64 inputs rounded, the float64 reference reads float32 inputs widened exactly.
 *
 * @param q           {@code [B, qHeads, qLen, headDim]}
 * @param k           {@code [B, kvHeads, kvLen, headDim]}
 * @param v           {@code [B, kvHeads, kvLen, vHeadDim]}
 * @param bias        additive, finite, broadcastable to {@code [B, qHeads, qLen, kvLen]}
 * @param mask        {@code true} = may attend, broadcastable to {@code [B, qHeads, qLen, kvLen]}
 * @param alibiSlopes {@code [qHeads]}
 * @param sinks       {@code [qHeads]}
 * @param kvLens      {@code [B]}, each in {@code [0, kvLen]}
 * @param scoreMod    FlexAttention-style score rewrite at the end of step 3, or {@code null}
 * @param maskMod     FlexAttention-style visibility rule in step 4, or {@code null}
 */
public record AttentionInputs(Tensor q, Tensor k, Tensor v, Tensor bias, BoolTensor mask, Tensor alibiSlopes,
                              Tensor sinks, IntTensor kvLens, ScoreMod scoreMod, MaskMod maskMod) {

    /** All tensors, no score/mask mods. */
    public AttentionInputs(Tensor q, Tensor k, Tensor v, Tensor bias, BoolTensor mask, Tensor alibiSlopes, Tensor sinks,
                           IntTensor kvLens) {
        this(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, null, null);
    }

    public static AttentionInputs of(Tensor q, Tensor k, Tensor v) {
        return new AttentionInputs(q, k, v, null, null, null, null, null);
    }

    public AttentionInputs withScoreMod(ScoreMod scoreMod) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withMaskMod(MaskMod maskMod) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withBias(Tensor bias) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withMask(BoolTensor mask) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withAlibiSlopes(Tensor alibiSlopes) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withSinks(Tensor sinks) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withKvLens(IntTensor kvLens) {
        return new AttentionInputs(q, k, v, bias, mask, alibiSlopes, sinks, kvLens, scoreMod, maskMod);
    }

    public AttentionInputs withKvLens(int... kvLens) {
        return withKvLens(IntTensor.of(kvLens.clone(), kvLens.length));
    }

    public int batch() {
        return q.size(0);
    }

    public int qLen() {
        return q.size(2);
    }

    public int kvLen() {
        return k.size(2);
    }

    /** The optional inputs present. */
    public Set<OptionalInput> present() {
        EnumSet<OptionalInput> s = EnumSet.noneOf(OptionalInput.class);
        if (bias != null) s.add(OptionalInput.BIAS);
        if (mask != null) s.add(OptionalInput.MASK);
        if (alibiSlopes != null) s.add(OptionalInput.ALIBI_SLOPES);
        if (sinks != null) s.add(OptionalInput.SINKS);
        if (kvLens != null) s.add(OptionalInput.KV_LENS);
        if (scoreMod != null) s.add(OptionalInput.SCORE_MOD);
        if (maskMod != null) s.add(OptionalInput.MASK_MOD);
        return s;
    }

    /**
     * Checks every shape, dtype and value against {@code spec} and returns the problem these inputs pose.
     * Throws {@link AttentionException} naming the first bad argument.
     */
    public AttentionProblem validate(AttentionSpec spec) {
        requireTensor("q", q, 4);
        requireTensor("k", k, 4);
        requireTensor("v", v, 4);
        int b = q.size(0);
        int lq = q.size(2);
        int lk = k.size(2);
        expectShape("q", q, b, spec.qHeads(), lq, spec.headDim());
        expectShape("k", k, b, spec.kvHeads(), lk, spec.headDim());
        expectShape("v", v, b, spec.kvHeads(), lk, spec.vHeadDim());
        AttentionException.require(b >= 1, "q.shape[0]", "batch >= 1", b);
        int[] scores = {b, spec.qHeads(), lq, lk};
        if (bias != null) {
            requireFloating("bias", bias);
            AttentionException.require(Tensor.broadcastable(bias.shape(), scores), "bias.shape",
                    "broadcastable to " + Arrays.toString(scores), Arrays.toString(bias.shape()));
            requireFinite("bias", bias);
        }
        if (mask != null) {
            AttentionException.require(Tensor.broadcastable(mask.shape(), scores), "mask.shape",
                    "broadcastable to " + Arrays.toString(scores), Arrays.toString(mask.shape()));
        }
        if (alibiSlopes != null) {
            requireFloating("alibiSlopes", alibiSlopes);
            expectShape("alibiSlopes", alibiSlopes, spec.qHeads());
            requireFinite("alibiSlopes", alibiSlopes);
        }
        if (sinks != null) {
            requireFloating("sinks", sinks);
            expectShape("sinks", sinks, spec.qHeads());
            requireFinite("sinks", sinks);
        }
        if (kvLens != null) {
            expectShape("kvLens", kvLens, b);
            for (int i = 0; i < b; i++) {
                int len = kvLens.get(i);
                AttentionException.require(len >= 0 && len <= lk, "kvLens[" + i + "]", "in [0, " + lk + "]", len);
            }
        }
        requireFinite("q", q);
        requireFinite("k", k);
        requireFinite("v", v);
        return new AttentionProblem(spec, b, lq, lk, present());
    }

    private static void requireTensor(String name, Tensor t, int rank) {
        AttentionException.require(t != null, name, "a tensor", "null");
        AttentionException.require(t.dtype().isReal(), name + ".dtype", "FLOAT32, FLOAT64, FLOAT16, BFLOAT16 or INT8", t.dtype());
        AttentionException.require(t.rank() == rank, name + ".rank", rank, t.rank() + " (shape " + Arrays.toString(t.shape()) + ")");
    }

    private static void requireFloating(String name, Tensor t) {
        AttentionException.require(t.dtype().isFloating(), name + ".dtype", "FLOAT32 or FLOAT64", t.dtype());
    }

    private static void expectShape(String name, Tensor t, int... expected) {
        AttentionException.require(Arrays.equals(t.shape(), expected), name + ".shape", Arrays.toString(expected),
                Arrays.toString(t.shape()));
    }

    /** NaN or infinite inputs would silently poison a softmax: reject them at the edge. */
    private static void requireFinite(String name, Tensor t) {
        Tensors.requireFinite(name, t);
    }
}
