package org.attn4j.reference.cost;

import org.attn4j.api.AttentionException;

import java.util.List;

/**
 * One weight of a layer and its parameter count.
 *
 * @param name  FORMAT.md's name ({@code wq}, {@code bk}, {@code w_kv_b}, {@code q_a_norm}, ...)
 * @param shape {@code [out, in]} ({@code nn.Linear} layout) or {@code [n]} for biases and norm gains
 * @param count the product of {@code shape}
 */
public record WeightCount(String name, List<Long> shape, long count) {
    public WeightCount {
        AttentionException.require(name != null && !name.isBlank(), "name", "a weight name", name);
        AttentionException.require(shape != null && !shape.isEmpty(), "shape", "at least one axis", shape);
        shape = List.copyOf(shape);
        long n = 1;
        for (long s : shape) {
            AttentionException.require(s >= 0, "shape", "sizes >= 0", shape);
            n = Math.multiplyExact(n, s);
        }
        AttentionException.require(count == n, "count", "the product of " + shape + " = " + n, count);
    }

    /** A matrix {@code [rows, cols]}. */
    public static WeightCount matrix(String name, long rows, long cols) {
        return new WeightCount(name, List.of(rows, cols), Math.multiplyExact(rows, cols));
    }

    /** A vector {@code [n]}. */
    public static WeightCount vector(String name, long n) {
        return new WeightCount(name, List.of(n), n);
    }
}
