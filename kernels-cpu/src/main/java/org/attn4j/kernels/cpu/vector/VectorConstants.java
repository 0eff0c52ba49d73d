package org.attn4j.kernels.cpu.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float species every vector loop uses, fixed once per JVM ({@code static final}, so the JIT folds it).
 * Kept in its own class, as Lucene's {@code PanamaVectorConstants}, so that {@link VectorCpuKernels}'s
 * suitability checks can report problems before the species is needed.
 *
 * <p>Test knob: {@code -Dattn4j.cpu.vectorBits=128|256|512} narrows the species, to exercise other lane counts on a
 * wide machine. A width beyond the hardware's preferred one is ignored unless {@code -Dattn4j.cpu.vectorBits.emulate=true}
 * also asks for it: the Vector API then runs that species in Java code, correct but many times slower, which lets
 * tests and coverage reach the 16-lane paths on an AVX2 machine.
 */
final class VectorConstants {
    /** System property narrowing the vector width for tests. */
    static final String BITS_PROPERTY = "attn4j.cpu.vectorBits";

    /** System property allowing {@link #BITS_PROPERTY} beyond the hardware's width (emulated, slow). */
    static final String EMULATE_PROPERTY = "attn4j.cpu.vectorBits.emulate";

    static final VectorSpecies<Float> FLOAT = pick();

    private VectorConstants() {
    }

    private static VectorSpecies<Float> pick() {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        String requested = System.getProperty(BITS_PROPERTY);
        if (requested == null || requested.isBlank()) return preferred;
        try {
            int bits = Integer.parseInt(requested.trim());
            boolean allowed = bits <= preferred.vectorBitSize() || Boolean.getBoolean(EMULATE_PROPERTY);
            if (bits >= 64 && bits <= 512 && allowed && Integer.bitCount(bits) == 1) {
                return VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
            }
        } catch (RuntimeException ignored) {
            // fall through: an unusable value keeps the preferred species (VectorCpuKernels logs the width)
        }
        return preferred;
    }

    /** Whether the species in use is wider than this machine's vectors (run in Java code by the Vector API). */
    static boolean emulated() {
        return FLOAT.vectorBitSize() > FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
