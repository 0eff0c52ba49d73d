package org.attn4j.kernels.cpu;

import org.attn4j.api.Alignment;
import org.attn4j.api.AttentionSpec;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.Tensor;

/**
 * One attention call with every tensor resolved to a flat array plus offset and strides (in elements), so
 * that the engine's loops only do integer arithmetic. Filled by the plans after validation; the engine
 * trusts it. Row {@code (b, h, i)} of queries starts at {@code qOff + b*qSB + h*qSH + i*qSL}; the same
 * pattern holds for the outputs, the bias and the mask (the latter two with a key stride, possibly 0 for
 * broadcast axes).
 */
final class AttentionCall {
    // sizes and score options
    int batch;
    int qHeads;
    int kvHeads;
    int qLen;
    int headDim;
    int vHeadDim;
    float scale;
    float softcap;
    boolean causal;
    boolean bottomRight;
    int windowLeft = -1;
    int windowRight = -1;

    // queries [B, Hq, Lq, D], unit element stride
    float[] q;
    int qOff, qSB, qSH, qSL;

    KvSource kv;

    // optional inputs, null when absent
    float[] bias;
    int biasOff, biasSB, biasSH, biasSL, biasSK;
    boolean[] mask;
    /** FlexAttention-style hooks (golden/FORMAT.md step 3 end / step 4), or null. */
    org.attn4j.api.ScoreMod scoreMod;
    org.attn4j.api.MaskMod maskMod;
    int maskOff, maskSB, maskSH, maskSL, maskSK;
    float[] alibi;
    double[] sinks;

    // outputs: out [B, Hq, Lq, Dv] (unit element stride), lse [B, Hq, Lq] contiguous or null
    float[] out;
    int outOff, outSB, outSH, outSL;
    float[] lse;

    /**
     * Set when a row that sees a key came out empty (every score -inf): finite inputs whose scores overflowed
     * float32 downwards, or a legitimately negligible row next to a huge sink. {@link FlashEngine#run(AttentionCall,
     * java.util.function.Supplier, String)} tells the two apart. Written by worker threads, read after they joined.
     */
    volatile boolean emptyRowSawKeys;

    int group() {
        return qHeads / kvHeads;
    }

    /** Sizes and score options of a spec; alignment as given (decoding passes bottom-right). */
    AttentionCall spec(AttentionSpec spec, int batch, int qLen) {
        this.batch = batch;
        this.qHeads = spec.qHeads();
        this.kvHeads = spec.kvHeads();
        this.qLen = qLen;
        this.headDim = spec.headDim();
        this.vHeadDim = spec.vHeadDim();
        this.scale = (float) spec.effectiveScale();
        this.softcap = (float) spec.softcap();
        this.causal = spec.causal();
        this.bottomRight = spec.alignment() == Alignment.BOTTOM_RIGHT;
        this.windowLeft = spec.window().left();
        this.windowRight = spec.window().right();
        return this;
    }

    /** Queries from a {@code [B, Hq, Lq, D]} tensor: read in place when float32 with unit element stride. */
    AttentionCall queries(Tensor t) {
        FloatTensor f = KvSource.rowContiguousFloat(t);
        return queries(f.data(), f.offset(), f.stride(0), f.stride(1), f.stride(2));
    }

    AttentionCall queries(float[] data, int off, int sb, int sh, int sl) {
        this.q = data;
        this.qOff = off;
        this.qSB = sb;
        this.qSH = sh;
        this.qSL = sl;
        return this;
    }

    AttentionCall output(float[] data, int off, int sb, int sh, int sl) {
        this.out = data;
        this.outOff = off;
        this.outSB = sb;
        this.outSH = sh;
        this.outSL = sl;
        return this;
    }

    AttentionCall mods(org.attn4j.api.ScoreMod scoreMod, org.attn4j.api.MaskMod maskMod) {
        this.scoreMod = scoreMod;
        this.maskMod = maskMod;
        return this;
    }

    /** A bias broadcast to {@code [B, Hq, Lq, Lk]} through zero strides: never materialised. */
    AttentionCall bias(Tensor t, int lk) {
        if (t == null) return this;
        FloatTensor f = t instanceof FloatTensor ft ? ft : FloatTensor.copyOf(t); // copy keeps the user's (small) shape
        FloatTensor b = f.broadcastTo(batch, qHeads, qLen, lk);
        this.bias = b.data();
        this.biasOff = b.offset();
        this.biasSB = b.stride(0);
        this.biasSH = b.stride(1);
        this.biasSL = b.stride(2);
        this.biasSK = b.stride(3);
        return this;
    }

    AttentionCall mask(BoolTensor t, int lk) {
        if (t == null) return this;
        BoolTensor m = t.broadcastTo(batch, qHeads, qLen, lk);
        return mask(m.data(), m.offset(), m.stride(0), m.stride(1), m.stride(2), m.stride(3));
    }

    AttentionCall mask(boolean[] data, int off, int sb, int sh, int sl, int sk) {
        this.mask = data;
        this.maskOff = off;
        this.maskSB = sb;
        this.maskSH = sh;
        this.maskSL = sl;
        this.maskSK = sk;
        return this;
    }

    AttentionCall alibi(Tensor t) {
        if (t != null) this.alibi = t.toFloatArray();
        return this;
    }

    /** Sinks as float32 values (the precision of this backend), widened for the final log-sum-exp. */
    AttentionCall sinks(Tensor t) {
        if (t == null) return this;
        float[] f = t.toFloatArray();
        this.sinks = new double[f.length];
        for (int i = 0; i < f.length; i++) sinks[i] = f[i];
        return this;
    }
}
