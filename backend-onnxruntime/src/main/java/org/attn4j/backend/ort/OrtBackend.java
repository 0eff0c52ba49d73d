package org.attn4j.backend.ort;

import org.attn4j.api.AbstractAttentionBackend;
import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionPlan;
import org.attn4j.api.AttentionProblem;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.Feature;
import org.attn4j.api.LayerConfig;
import org.attn4j.api.LayerPlan;
import org.attn4j.api.MlaLayerConfig;
import org.attn4j.api.MlaLayerWeights;
import org.attn4j.api.PlanOptions;
import org.attn4j.api.Precision;
import org.attn4j.api.StandardLayerConfig;
import org.attn4j.api.StandardLayerWeights;
import org.attn4j.api.Support;
import org.attn4j.api.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * ONNX Runtime as an attn4j backend (name {@code onnxruntime}): each call runs one ONNX {@code Attention} node
 * (opset 23, or 24 for {@code kv_lens}) on ORT's CPU execution provider, in float32. A third-party backend in the
 * plain sense: it claims exactly what the operator can express and declines the rest, each reason naming the ONNX
 * limitation; it does nothing on the side to make ORT's answers look right, so where ORT disagrees with FORMAT.md the
 * conformance suite sees it (see docs/ONNXRUNTIME.md).
 *
 * <p>What ONNX {@code Attention} expresses: MHA/MQA/GQA from 4-D shapes, {@code scale}, {@code softcap} (before the
 * mask, as FORMAT's step 2 then 3), {@code V} wider or narrower than {@code K}, one {@code attn_mask} that is either
 * bool (visibility) or float (added to the scores), {@code is_causal} with a top-left diagonal, and (opset 24)
 * {@code nonpad_kv_seqlen} per sequence. No LSE output: plans return {@code lse = null} whatever
 * {@link PlanOptions#computeLse()} says.
 *
 * <p>Priority -10: below the reference, so {@link org.attn4j.api.Backends#select} never picks it; ask for it by name.
 */
public final class OrtBackend extends AbstractAttentionBackend {
    public static final String NAME = "onnxruntime";

    /** A mask or bias that ORT reads: its {@code attn_mask} must have rank 2, 3 or 4 (ONNX itself allows any rank). */
    private static final Set<Feature> NOT_EXPRESSIBLE = Set.of(Feature.WINDOW, Feature.ALIBI, Feature.SINKS,
            Feature.SCORE_MOD, Feature.MASK_MOD);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Precision precision() {
        return Precision.FLOAT32;
    }

    /** Never the default choice: it is here to be checked, not to serve {@code Backends.select}. */
    @Override
    public int priority() {
        return -10;
    }

    /** Why ONNX Runtime's native library did not load here, or empty. */
    @Override
    public Optional<String> unavailableReason() {
        return Ort.unavailableReason();
    }

    /** The ONNX Runtime version, e.g. {@code 1.24.1}, or empty when it did not load. */
    public static Optional<String> ortVersion() {
        return Ort.version();
    }

    @Override
    protected Support supportOf(AttentionProblem problem) {
        return Support.of(reasons(problem));
    }

    /** Every reason ONNX {@code Attention} (as ORT 1.24 runs it) cannot express {@code problem}. */
    static List<String> reasons(AttentionProblem problem) {
        AttentionSpec s = problem.spec();
        Set<Feature> f = problem.features();
        List<String> reasons = new ArrayList<>();
        for (Feature x : NOT_EXPRESSIBLE) {
            if (f.contains(x)) reasons.add(x + ": " + switch (x) {
                case WINDOW -> "ONNX Attention (opset 23/24) has no local-window attribute";
                case ALIBI -> "ONNX Attention has no ALiBi input (a distance bias would have to be built outside the op)";
                case SINKS -> "ONNX Attention has no sink logits (only com.microsoft.GroupQueryAttention does)";
                case SCORE_MOD -> "ONNX Attention takes no score function (FlexAttention is ai.onnx.preview)";
                case MASK_MOD -> "ONNX Attention takes no mask function (FlexAttention is ai.onnx.preview)";
                default -> throw new AssertionError(x);
            });
        }
        if (s.causal() && f.contains(Feature.KV_LENS)) {
            reasons.add("CAUSAL with KV_LENS: the diagonal of is_causal with nonpad_kv_seqlen is not settled in ONNX "
                    + "(top-left in the opset-24 function body, per-sequence bottom-right in the later reference)");
        } else if (s.causal() && s.alignment() == Alignment.BOTTOM_RIGHT && problem.qLen() != problem.kvLen()) {
            reasons.add("CAUSAL bottom-right with q_len " + problem.qLen() + " != kv_len " + problem.kvLen()
                    + ": ONNX is_causal is top-left without past_key");
        }
        if (f.contains(Feature.BIAS) && f.contains(Feature.MASK)) {
            reasons.add("BIAS with MASK: ONNX Attention has one attn_mask input, either bool or float, not both");
        }
        if (f.contains(Feature.EMPTY)) {
            reasons.add("EMPTY: ORT's Attention kernel requires q_sequence_length > 0 and kv_sequence_length > 0");
        }
        long out = (long) problem.batch() * s.qHeads() * problem.qLen() * s.vHeadDim();
        if (out > Tensor.MAX_ELEMENTS) {
            reasons.add("output of " + out + " floats exceeds one Java array (" + Tensor.MAX_ELEMENTS + ")");
        }
        return reasons;
    }

    @Override
    protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
        return new OrtAttentionPlan(problem, options);
    }

    /** Layers are declined: the backend runs the ONNX Attention operator only, not a projection graph around it. */
    @Override
    protected Support layerSupportOf(LayerConfig config) {
        return Support.no("layers: the onnxruntime backend runs the ONNX Attention operator alone (no MatMul/"
                + "projection graph around it is built); use the kernel API");
    }

    @Override
    protected LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options) {
        throw new AssertionError("layerSupportOf declines every layer");
    }

    @Override
    protected LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options) {
        throw new AssertionError("layerSupportOf declines every layer");
    }

    @Override
    public String toString() {
        return "OrtBackend[" + Ort.version().orElse("unavailable") + "]";
    }
}
