package org.attn4j.reference.mla;

import org.attn4j.api.AttentionException;

/**
 * Rotary position embedding as FORMAT.md defines it for MLA: a vector of even width {@code dim} is cut into
 * {@code dim / 2} pairs; pair {@code i} turns by {@code θ = p · theta^(-2i/dim)}, {@code (a, b) -> (a cos θ - b sin θ,
 * b cos θ + a sin θ)}. Pair {@code i} is {@code (2i, 2i+1)} when interleaved (GPT-J / DeepSeek checkpoint order),
 * else {@code (i, i + dim/2)} (GPT-NeoX "rotate half" order). Rotated in place: elements keep their positions.
 */
public final class Rope {
    private Rope() {
    }

    /**
     * Rotates {@code v[offset .. offset + dim)} in place for position {@code position}.
     *
     * @param v           storage
     * @param offset      first element of the vector
     * @param dim         even width ({@code 0} rotates nothing)
     * @param position    the token's position {@code p >= 0}
     * @param theta       the base ({@code rope_theta}, e.g. 10000)
     * @param interleaved pairs {@code (2i, 2i+1)} when true, {@code (i, i + dim/2)} when false
     */
    public static void rotate(double[] v, int offset, int dim, long position, double theta, boolean interleaved) {
        AttentionException.require(dim >= 0 && dim % 2 == 0, "dim", "an even number >= 0", dim);
        AttentionException.require(position >= 0, "position", ">= 0", position);
        AttentionException.require(Double.isFinite(theta) && theta > 0, "theta", "a finite number > 0", theta);
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            double angle = position * Math.pow(theta, -2.0 * i / dim);
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            int ia = offset + (interleaved ? 2 * i : i);
            int ib = offset + (interleaved ? 2 * i + 1 : i + half);
            double a = v[ia];
            double b = v[ib];
            v[ia] = a * cos - b * sin;
            v[ib] = b * cos + a * sin;
        }
    }
}
