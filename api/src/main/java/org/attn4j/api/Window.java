package org.attn4j.api;

/**
 * A local attention window around each query's diagonal {@code d}: key {@code j} is visible iff
 * {@code d - left <= j <= d + right}. {@code -1} means unbounded on that side; {@code left = W} lets a
 * query see its own key and the {@code W} keys before it.
 */
public record Window(int left, int right) {
    /** No window: unbounded on both sides. */
    public static final Window NONE = new Window(-1, -1);

    public Window {
        AttentionException.require(left >= -1, "window.left", ">= -1 (-1 = unbounded)", left);
        AttentionException.require(right >= -1, "window.right", ">= -1 (-1 = unbounded)", right);
    }

    public static Window left(int left) {
        return new Window(left, -1);
    }

    public boolean isNone() {
        return left < 0 && right < 0;
    }

    /** Whether key {@code j} is inside the window of a query whose diagonal is {@code d}. */
    public boolean contains(int d, int j) {
        return (left < 0 || j >= (long) d - left) && (right < 0 || j <= (long) d + right);
    }
}
