package com.example.attn;

import org.attn4j.api.*;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A small float32 backend: MHA/MQA/GQA, causal (both alignments), custom scale, V width, kv_lens. Every other
 * feature, and layers, are declined with a reason, which the TCK reports as skipped.
 */
public final class Causal32Backend extends AbstractAttentionBackend {
    private static final Set<Feature> SUPPORTED = EnumSet.of(Feature.GROUPED_HEADS, Feature.CAUSAL, Feature.TOP_LEFT,
            Feature.CUSTOM_SCALE, Feature.V_HEAD_DIM, Feature.KV_LENS, Feature.EMPTY);

    @Override public String name() { return "causal32"; }

    @Override public Precision precision() { return Precision.FLOAT32; }

    @Override protected Support supportOf(AttentionProblem problem) {
        List<String> why = new ArrayList<>();
        for (Feature f : problem.features()) if (!SUPPORTED.contains(f)) why.add(f + ": not implemented by causal32");
        return Support.of(why);
    }

    @Override protected Support layerSupportOf(LayerConfig config) { return Support.no("layers: not implemented by causal32"); }

    @Override protected AttentionPlan newPlan(AttentionProblem problem, PlanOptions options) {
        AttentionSpec spec = problem.spec();
        return new AttentionPlan() {
            @Override public AttentionProblem problem() { return problem; }

            @Override public AttentionOutput run(AttentionInputs in) {
                AttentionException.require(in != null, "inputs", "attention inputs", "null"); // the TCK passes null too
                AttentionProblem p = in.validate(spec);   // shapes, dtypes, finite values: AttentionException
                supportOf(p).orThrow(name(), p);
                Float32Range.requireFits(in);              // float64 inputs beyond float32's range
                int b = p.batch(), hq = spec.qHeads(), lq = p.qLen(), lk = p.kvLen(), d = spec.headDim(), dv = spec.vHeadDim();
                FloatTensor out = FloatTensor.zeros(b, hq, lq, dv);
                FloatTensor lse = FloatTensor.zeros(b, hq, lq);
                double scale = spec.effectiveScale();
                for (int n = 0; n < b; n++) {
                    int len = in.kvLens() == null ? lk : in.kvLens().get(n);
                    for (int h = 0; h < hq; h++) {
                        int g = spec.kvHeadOf(h);
                        for (int i = 0; i < lq; i++) {
                            int diag = spec.alignment() == Alignment.TOP_LEFT ? i : i + len - lq;
                            int last = Math.min(len - 1, spec.causal() ? diag : len - 1); // last visible key
                            double[] s = new double[Math.max(0, last + 1)];
                            double max = Double.NEGATIVE_INFINITY;
                            for (int j = 0; j <= last; j++) {
                                double dot = 0; // in double: a float product overflows at q = k = 1e20 (kernel/input-range)
                                for (int c = 0; c < d; c++) dot += (double) (float) in.q().getDouble(n, h, i, c) * (float) in.k().getDouble(n, g, j, c);
                                s[j] = scale * dot;
                                max = Math.max(max, s[j]);
                            }
                            double sum = 0;
                            for (int j = 0; j <= last; j++) sum += s[j] = Math.exp(s[j] - max);
                            double l = last < 0 ? Double.NEGATIVE_INFINITY : max + Math.log(sum);
                            if (Math.abs(l) > Float.MAX_VALUE && last >= 0) throw AttentionException.invalid("q, k",
                                    "scores whose log-sum-exp fits float32", l);
                            lse.set((float) l, n, h, i);
                            for (int c = 0; c < dv && last >= 0; c++) {
                                double acc = 0;
                                for (int j = 0; j <= last; j++) acc += s[j] * (float) in.v().getDouble(n, g, j, c);
                                out.set((float) (acc / sum), n, h, i, c);
                            }
                        }
                    }
                }
                return new AttentionOutput(out, lse);
            }
        };
    }

    @Override protected LayerPlan newStandardLayer(StandardLayerConfig c, StandardLayerWeights w, PlanOptions o) {
        throw new AttentionException("layers are not implemented by causal32"); // never reached: layerSupportOf declines
    }

    @Override protected LayerPlan newMlaLayer(MlaLayerConfig c, MlaLayerWeights w, PlanOptions o) {
        throw new AttentionException("layers are not implemented by causal32");
    }
}
