package org.attn4j.cli.compare;

import org.attn4j.dsl.ModelConfig;
import org.attn4j.reference.cost.VariantCost;

import java.util.List;

/**
 * One config of the comparison: its cost (cost model) and what was measured, per backend.
 *
 * @param kvBytesAtContext KV-cache bytes of one sequence of {@link CompareSettings#context()} tokens through all layers
 * @param shapes           the timed kernels: prefill, then decode
 */
public record VariantRow(ModelConfig model, VariantCost cost, long kvBytesAtContext, List<KernelShape> shapes,
                         List<Speed> prefill, List<Speed> decode, List<ErrorCheck> errors) {
    public VariantRow {
        shapes = List.copyOf(shapes);
        prefill = List.copyOf(prefill);
        decode = List.copyOf(decode);
        errors = List.copyOf(errors);
    }

    /** The kernel of {@code phase}. */
    public KernelShape shape(Phase phase) {
        for (KernelShape s : shapes) if (s.phase() == phase) return s;
        throw new IllegalStateException("no " + phase + " kernel for " + model.getName());
    }

    public Speed.Timed timed(Phase phase, String backend) {
        for (Speed s : phase == Phase.PREFILL ? prefill : decode) {
            if (s instanceof Speed.Timed t && t.backend().equals(backend)) return t;
        }
        return null;
    }

    public Speed.NotTimed notTimed(Phase phase, String backend) {
        for (Speed s : phase == Phase.PREFILL ? prefill : decode) {
            if (s instanceof Speed.NotTimed n && n.backend().equals(backend)) return n;
        }
        return null;
    }

    public ErrorCheck error(String backend) {
        for (ErrorCheck e : errors) if (e.backend().equals(backend)) return e;
        return null;
    }

    /** Cache bytes one decode step reads (K and V, or the latent, in the config's KV dtype; float32 when it names none). */
    public double decodeBytesRead() {
        return Comparator.decodeBytesRead(shape(Phase.DECODE), model.getKvDtype());
    }
}
