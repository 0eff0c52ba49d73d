package org.attn4j.api;

import java.util.OptionalDouble;

/**
 * What attention computes, independent of sequence lengths and of which optional tensors are passed
 * (FORMAT.md, "kind = kernel"). Validated on construction: every illegal value is an
 * {@link AttentionException} naming the field.
 *
 * <pre>{@code
 * var llamaLike = AttentionSpec.builder(32, 8, 128).causal().window(Window.left(4096)).build();
 * }</pre>
 *
 * @param qHeads    query heads
 * @param kvHeads   key/value heads; a divisor of {@code qHeads} (MHA: equal, MQA: 1, GQA: any divisor)
 * @param headDim   width of Q and K per head
 * @param vHeadDim  width of V per head
 * @param scale     score scale; empty = {@code 1 / sqrt(headDim)}
 * @param causal    whether key {@code j > d_i} is hidden
 * @param alignment where the causal/window diagonal sits when {@code q_len != kv_len}
 * @param window    local window around the diagonal ({@link Window#NONE} for none)
 * @param softcap   {@code s = softcap * tanh(s / softcap)} when {@code > 0}; 0 = none
 */
public record AttentionSpec(int qHeads, int kvHeads, int headDim, int vHeadDim, OptionalDouble scale,
                            boolean causal, Alignment alignment, Window window, double softcap) {

    public AttentionSpec {
        AttentionException.require(qHeads >= 1, "qHeads", ">= 1", qHeads);
        AttentionException.require(kvHeads >= 1, "kvHeads", ">= 1", kvHeads);
        AttentionException.require(qHeads % kvHeads == 0, "kvHeads", "a divisor of qHeads=" + qHeads, kvHeads);
        AttentionException.require(headDim >= 1, "headDim", ">= 1", headDim);
        AttentionException.require(vHeadDim >= 1, "vHeadDim", ">= 1", vHeadDim);
        if (scale == null) scale = OptionalDouble.empty();
        if (scale.isPresent()) {
            double s = scale.getAsDouble();
            AttentionException.require(Double.isFinite(s) && s != 0, "scale", "a finite non-zero number", s);
        }
        if (alignment == null) alignment = Alignment.BOTTOM_RIGHT;
        if (window == null) window = Window.NONE;
        AttentionException.require(Double.isFinite(softcap) && softcap >= 0, "softcap", "a finite number >= 0 (0 = none)", softcap);
    }

    /** A plain spec: no mask, default scale, {@code vHeadDim == headDim}. */
    public static AttentionSpec of(int qHeads, int kvHeads, int headDim) {
        return builder(qHeads, kvHeads, headDim).build();
    }

    public static Builder builder(int qHeads, int kvHeads, int headDim) {
        return new Builder(qHeads, kvHeads, headDim);
    }

    public Builder toBuilder() {
        Builder b = new Builder(qHeads, kvHeads, headDim).vHeadDim(vHeadDim).alignment(alignment).window(window).softcap(softcap);
        if (causal) b.causal();
        scale.ifPresent(b::scale);
        return b;
    }

    /** The scale actually used: the given one, else {@code 1 / sqrt(headDim)}. */
    public double effectiveScale() {
        return scale.orElse(1.0 / Math.sqrt(headDim));
    }

    /** Query heads per KV head. */
    public int groupSize() {
        return qHeads / kvHeads;
    }

    /** The KV head that query head {@code h} reads: {@code h / (qHeads / kvHeads)}. */
    public int kvHeadOf(int h) {
        return h / groupSize();
    }

    /** Whether a window bounds at least one side. */
    public boolean hasWindow() {
        return !window.isNone();
    }

    public boolean hasSoftcap() {
        return softcap > 0;
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private final int qHeads;
        private final int kvHeads;
        private final int headDim;
        private int vHeadDim = -1;
        private OptionalDouble scale = OptionalDouble.empty();
        private boolean causal;
        private Alignment alignment = Alignment.BOTTOM_RIGHT;
        private Window window = Window.NONE;
        private double softcap;

        private Builder(int qHeads, int kvHeads, int headDim) {
            this.qHeads = qHeads;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
        }

        public Builder vHeadDim(int vHeadDim) {
            this.vHeadDim = vHeadDim;
            return this;
        }

        public Builder scale(double scale) {
            this.scale = OptionalDouble.of(scale);
            return this;
        }

        public Builder causal() {
            this.causal = true;
            return this;
        }

        public Builder causal(boolean causal) {
            this.causal = causal;
            return this;
        }

        public Builder alignment(Alignment alignment) {
            this.alignment = alignment;
            return this;
        }

        public Builder window(Window window) {
            this.window = window;
            return this;
        }

        public Builder window(int left, int right) {
            this.window = new Window(left, right);
            return this;
        }

        public Builder softcap(double softcap) {
            this.softcap = softcap;
            return this;
        }

        public AttentionSpec build() {
            return new AttentionSpec(qHeads, kvHeads, headDim, vHeadDim < 0 ? headDim : vHeadDim, scale, causal,
                    alignment, window, softcap);
        }
    }
}
