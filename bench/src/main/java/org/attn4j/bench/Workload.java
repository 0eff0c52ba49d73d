package org.attn4j.bench;

import org.attn4j.api.AttentionException;
import org.attn4j.api.AttentionSpec;

import java.util.List;
import java.util.Locale;

/**
 * A benchmark shape (docs/PERFORMANCE.md, "Workloads"); the names P1 P2 D1 D2 M1 mean the same everywhere
 * ({@code attn bench}, the JMH benchmarks, docs/PERFORMANCE.md).
 *
 * <p>Prefill workloads are compute-bound and report GFLOP/s with {@code FLOPs = 2·B·Hq·Lq·Lk·(D + Dv)}
 * (= {@code 4·B·Hq·Lq·Lk·D} when {@code Dv = D}), halved for causal squares. Decode workloads are memory-bound and
 * report GB/s of the K/V bytes read, {@code 4·B·Hkv·Lk·(D + Dv)}; the MLA decode reads the latent cache,
 * {@code 4·B·Lk·(kvLoraRank + rope)}.
 *
 * @param name    P1 P2 D1 D2 M1 (or a derived name such as D1-MHA)
 * @param kind    prefill, decode over a KV cache, or MLA absorbed decode over a latent cache
 * @param batch   {@code B}
 * @param qHeads  {@code Hq}
 * @param kvHeads {@code Hkv} (1 for MLA: the latent is one shared head)
 * @param headDim {@code D}, the Q/K width (MLA: {@code kvLoraRank + rope}, the absorbed query width)
 * @param vHeadDim {@code Dv} (MLA: {@code kvLoraRank}, the latent values)
 * @param qLen    queries per sequence
 * @param kvLen   keys per sequence
 * @param causal  causal mask (bottom-right aligned)
 * @param mla     the MLA widths, or {@code null} for non-MLA workloads
 */
public record Workload(String name, Kind kind, int batch, int qHeads, int kvHeads, int headDim, int vHeadDim, int qLen,
                       int kvLen, boolean causal, Mla mla) {

    /** What is measured. */
    public enum Kind {
        PREFILL, DECODE, MLA_DECODE
    }

    /**
     * MLA widths (DeepSeek-V2 naming).
     *
     * @param kvLoraRank latent width {@code c_kv}
     * @param ropeDim    shared rotated key width {@code k_pe}
     * @param nopeDim    per-head non-rotated Q/K width (the width {@code W_UK} decompresses to)
     * @param vHeadDim   per-head value width (the width {@code W_UV} decompresses to)
     */
    public record Mla(int kvLoraRank, int ropeDim, int nopeDim, int vHeadDim) {
        public Mla {
            AttentionException.require(kvLoraRank >= 1, "kvLoraRank", ">= 1", kvLoraRank);
            AttentionException.require(ropeDim >= 0, "ropeDim", ">= 0", ropeDim);
            AttentionException.require(nopeDim >= 1, "nopeDim", ">= 1", nopeDim);
            AttentionException.require(vHeadDim >= 1, "vHeadDim", ">= 1", vHeadDim);
        }

        /** Floats per cached token: {@code kvLoraRank + rope}. */
        public int latentWidth() {
            return kvLoraRank + ropeDim;
        }

        /** The decompressed per-head Q/K width {@code nope + rope}; the softmax scale is {@code 1/sqrt} of it. */
        public int qkHeadDim() {
            return nopeDim + ropeDim;
        }
    }

    public Workload {
        AttentionException.require(name != null && !name.isBlank(), "name", "a workload name", name);
        AttentionException.require(kind != null, "kind", "a kind", "null");
        AttentionException.require(batch >= 1, "batch", ">= 1", batch);
        AttentionException.require(qLen >= 1, "qLen", ">= 1", qLen);
        AttentionException.require(kvLen >= 1, "kvLen", ">= 1", kvLen);
        AttentionException.require(kind != Kind.PREFILL || qLen == kvLen, "qLen", "kvLen=" + kvLen + " for a prefill", qLen);
        AttentionException.require(kind == Kind.PREFILL || qLen == 1, "qLen", "1 for a decode", qLen);
        AttentionException.require((kind == Kind.MLA_DECODE) == (mla != null), "mla", "MLA widths exactly for MLA_DECODE",
                mla == null ? "null" : mla);
        if (mla != null) {
            AttentionException.require(kvHeads == 1, "kvHeads", "1 (one latent head) for MLA", kvHeads);
            AttentionException.require(headDim == mla.latentWidth(), "headDim", "kvLoraRank + rope = " + mla.latentWidth(), headDim);
            AttentionException.require(vHeadDim == mla.kvLoraRank(), "vHeadDim", "kvLoraRank = " + mla.kvLoraRank(), vHeadDim);
        }
        spec(qHeads, kvHeads, headDim, vHeadDim, causal, mla); // validates heads and widths
    }

    /** P1: prefill, B 1, 32 q / 8 kv heads, d 128, L 2048, causal. */
    public static final Workload P1 = prefill("P1", 1, 32, 8, 128, 2048, true);
    /** P2: prefill, B 1, 16/16 heads, d 64, L 1024, no mask. */
    public static final Workload P2 = prefill("P2", 1, 16, 16, 64, 1024, false);
    /** D1: decode, B 1, 32/8 heads, d 128, KV 16384. */
    public static final Workload D1 = decode("D1", 1, 32, 8, 128, 16384);
    /** D2: decode, B 8, 32/8 heads, d 128, KV 4096. */
    public static final Workload D2 = decode("D2", 8, 32, 8, 128, 4096);
    /** M1: MLA absorbed decode, 16 heads, latent 512 + rope 64, nope 128, v 128, KV 16384 (DeepSeek-V2-Lite widths). */
    public static final Workload M1 = mlaDecode("M1", 1, 16, new Mla(512, 64, 128, 128), 16384);

    /** The five standard workloads in table order. */
    public static List<Workload> standard() {
        return List.of(P1, P2, D1, D2, M1);
    }

    /** A standard workload by name (case-insensitive). */
    public static Workload byName(String name) {
        for (Workload w : standard()) {
            if (w.name.equalsIgnoreCase(name)) return w;
        }
        throw AttentionException.invalid("workload", "one of P1 P2 D1 D2 M1 or all", "'" + name + "'");
    }

    /**
     * A tiny workload of the same kind and head layout as the standard one of this name (for tests and smoke runs:
     * seconds become milliseconds). Names are kept so that the output has the same rows.
     */
    public static Workload tiny(String name) {
        return switch (byName(name).name) {
            case "P1" -> prefill("P1", 1, 4, 2, 16, 64, true);
            case "P2" -> prefill("P2", 1, 2, 2, 8, 48, false);
            case "D1" -> decode("D1", 1, 4, 2, 16, 96);
            case "D2" -> decode("D2", 2, 4, 2, 16, 40);
            case "M1" -> mlaDecode("M1", 1, 2, new Mla(16, 8, 8, 8), 64);
            default -> throw new IllegalStateException(name);
        };
    }

    public static Workload prefill(String name, int batch, int qHeads, int kvHeads, int headDim, int len, boolean causal) {
        return new Workload(name, Kind.PREFILL, batch, qHeads, kvHeads, headDim, headDim, len, len, causal, null);
    }

    public static Workload decode(String name, int batch, int qHeads, int kvHeads, int headDim, int kvLen) {
        return new Workload(name, Kind.DECODE, batch, qHeads, kvHeads, headDim, headDim, 1, kvLen, false, null);
    }

    public static Workload mlaDecode(String name, int batch, int heads, Mla mla, int kvLen) {
        return new Workload(name, Kind.MLA_DECODE, batch, heads, 1, mla.latentWidth(), mla.kvLoraRank(), 1, kvLen, false, mla);
    }

    /** The same shape with another KV head count and name (e.g. the MHA 32/32 twin of D1). */
    public Workload withKvHeads(String newName, int newKvHeads) {
        AttentionException.require(kind != Kind.MLA_DECODE, "kind", "not MLA (its latent is one head)", kind);
        return new Workload(newName, kind, batch, qHeads, newKvHeads, headDim, vHeadDim, qLen, kvLen, causal, null);
    }

    /** The same workload with another name. */
    public Workload named(String newName) {
        return new Workload(newName, kind, batch, qHeads, kvHeads, headDim, vHeadDim, qLen, kvLen, causal, mla);
    }

    /**
     * The attention this workload runs. Decode is not causal: one query at the end of the cache sees every key, which
     * is what a bottom-right causal mask gives too. MLA: the absorbed form, MQA over the latent with the scale of the
     * decompressed width {@code 1/sqrt(nope + rope)}.
     */
    public AttentionSpec spec() {
        return spec(qHeads, kvHeads, headDim, vHeadDim, causal, mla);
    }

    private static AttentionSpec spec(int qHeads, int kvHeads, int headDim, int vHeadDim, boolean causal, Mla mla) {
        AttentionSpec.Builder b = AttentionSpec.builder(qHeads, kvHeads, headDim).vHeadDim(vHeadDim).causal(causal);
        if (mla != null) b.scale(1.0 / Math.sqrt(mla.qkHeadDim()));
        return b.build();
    }

    /** Softmax scale used by every implementation of this workload (attn4j and the peer). */
    public double scale() {
        return spec().effectiveScale();
    }

    /** Whether the figure of merit is bandwidth (decode) rather than arithmetic (prefill). */
    public boolean memoryBound() {
        return kind != Kind.PREFILL;
    }

    /** {@code GFLOP/s} or {@code GB/s}. */
    public String unit() {
        return memoryBound() ? "GB/s" : "GFLOP/s";
    }

    /** Floating-point operations: {@code 2·B·Hq·Lq·Lk·(D + Dv)}, halved for a causal square ({@code Lq == Lk}). */
    public double flops() {
        double f = 2.0 * batch * qHeads * (double) qLen * kvLen * (headDim + vHeadDim);
        return causal && qLen == kvLen ? f / 2 : f;
    }

    /** Cache bytes one decode step reads: K and V ({@code 4·B·Hkv·Lk·(D + Dv)}) or the latent ({@code 4·B·Lk·(c + rope)}). */
    public double bytesRead() {
        if (mla != null) return 4.0 * batch * kvLen * mla.latentWidth();
        return 4.0 * batch * kvHeads * (double) kvLen * (headDim + vHeadDim);
    }

    /** The figure of merit for one run of {@code seconds}: GFLOP/s for prefill, GB/s for decode. */
    public double rate(double seconds) {
        AttentionException.require(seconds > 0 && Double.isFinite(seconds), "seconds", "> 0", seconds);
        return (memoryBound() ? bytesRead() : flops()) / seconds / 1e9;
    }

    /** One line for humans, e.g. {@code prefill B1 32q/8kv d128 L2048 causal}. */
    public String describe() {
        return switch (kind) {
            case PREFILL -> String.format(Locale.ROOT, "prefill B%d %dq/%dkv d%d L%d%s", batch, qHeads, kvHeads, headDim, qLen,
                    causal ? " causal" : "");
            case DECODE -> String.format(Locale.ROOT, "decode B%d %dq/%dkv d%d KV %d", batch, qHeads, kvHeads, headDim, kvLen);
            case MLA_DECODE -> String.format(Locale.ROOT, "MLA absorbed decode B%d %d heads latent %d + rope %d, v %d, KV %d",
                    batch, qHeads, mla.kvLoraRank(), mla.ropeDim(), mla.vHeadDim(), kvLen);
        };
    }
}
