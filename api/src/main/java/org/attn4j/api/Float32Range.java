package org.attn4j.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The numeric range of float32 attention, and the errors a float32 backend raises at its edge (see "Numeric range"
 * in {@link AttentionBackend}).
 *
 * <p>Finite float32 inputs can still overflow inside the computation: a score {@code scale * dot(q, k)} reaches
 * {@code scale * max|q| * max|k| * headDim}, an unnormalised value sum up to {@code kvLen * max|v|}, a biased score
 * {@code |s| + max|bias| + max|slope| * (qLen + kvLen)}. Checking those bounds up front would reject inputs that
 * compute fine (the bounds are loose) and would cost a pass over a KV cache on every decode step. So a float32
 * backend checks its result instead (one scan of {@code out} and {@code lse}, small next to the attention): only
 * when an element is non-finite where the float64 result is finite does it compute these bounds, once, to name the
 * input that is out of range, in the {@link AttentionException} it throws.
 */
public final class Float32Range {
    /** The largest float32 magnitude. */
    public static final double MAX = Float.MAX_VALUE;

    private Float32Range() {
    }

    /** Whether {@code x} rounds to a finite float32 (it may lose precision or flush to 0, which is fine). */
    public static boolean fits(double x) {
        return Float.isFinite((float) x);
    }

    /**
     * Throws when a float64 tensor holds a finite value that float32 cannot hold (it would round to an infinity): a
     * float32 backend must not silently turn such an input into {@code ±inf}. Float32 tensors always pass; the scan
     * only runs for float64 tensors, which a float32 backend converts (one pass) anyway.
     */
    public static void requireFits(String argument, Tensor t) {
        if (!(t instanceof DoubleTensor)) return;
        int[] bad = firstBeyond(t);
        if (bad != null) {
            throw AttentionException.invalid(argument + java.util.Arrays.toString(bad),
                    "|x| <= " + (float) MAX + " (the float32 range of this backend; use a float64 backend)", t.getDouble(bad));
        }
    }

    private static int[] firstBeyond(Tensor t) {
        int n = t.elementCount();
        if (n == 0) return null;
        int[] shape = t.shape();
        int[] idx = new int[shape.length];
        for (int e = 0; e < n; e++) {
            double x = t.getDouble(idx);
            if (Double.isFinite(x) && !fits(x)) return idx;
            for (int a = shape.length - 1; a >= 0; a--) {
                if (++idx[a] < shape[a]) break;
                idx[a] = 0;
            }
        }
        return null;
    }

    /** {@link #requireFits} for every floating input of a kernel call (a no-op for float32 tensors). */
    public static void requireFits(AttentionInputs in) {
        requireFits("q", in.q());
        requireFits("k", in.k());
        requireFits("v", in.v());
        if (in.bias() != null) requireFits("bias", in.bias());
        if (in.alibiSlopes() != null) requireFits("alibiSlopes", in.alibiSlopes());
        if (in.sinks() != null) requireFits("sinks", in.sinks());
    }

    /** The magnitudes of a kernel call's inputs (the failure path only: one pass over each). */
    public static Magnitudes magnitudes(AttentionSpec spec, AttentionInputs in) {
        Magnitudes m = new Magnitudes(spec.effectiveScale(), spec.headDim(), in.qLen(), in.kvLen())
                .q("q", maxAbs(in.q())).k("k", maxAbs(in.k())).v("v", maxAbs(in.v()));
        if (in.bias() != null) m.additive("bias", maxAbs(in.bias()));
        if (in.alibiSlopes() != null) m.alibi("alibiSlopes", maxAbs(in.alibiSlopes()));
        return m;
    }

    /**
     * The magnitudes of a decode call: {@code q [B, H, L, D]} (named {@code qName}) and everything the cache holds (a
     * keys-only latent cache's values are its keys). The failure path only: it reads the whole cache.
     */
    public static Magnitudes magnitudes(AttentionSpec spec, Tensor q, KvCache cache, String qName) {
        double k = 0;
        double v = 0;
        for (int s = 0; s < cache.sequences(); s++) {
            k = Math.max(k, maxAbs(cache.keys(s)));
            if (cache.vHeadDim() > 0) v = Math.max(v, maxAbs(cache.values(s)));
        }
        boolean latent = cache.vHeadDim() == 0;
        return new Magnitudes(spec.effectiveScale(), spec.headDim(), q.size(2), cache.maxCurrentLength())
                .q(qName, maxAbs(q)).k(latent ? "cache latents" : "cache keys", k)
                .v(latent ? "cache latents" : "cache values", latent ? k : v);
    }

    /** The largest finite {@code |x|} of a tensor, 0 for {@code null} or empty (only on the failure path). */
    public static double maxAbs(Tensor t) {
        if (t == null) return 0;
        double m = 0;
        for (double x : t.toDoubleArray()) if (Double.isFinite(x)) m = Math.max(m, Math.abs(x));
        return m;
    }

    /** The largest finite {@code |x|} of part of an array. */
    public static double maxAbs(float[] a, int from, int to) {
        double m = 0;
        for (int i = from; i < to; i++) if (Float.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
        return m;
    }

    /**
     * The magnitudes of one attention call's inputs, named as the caller knows them (e.g. {@code q}, or
     * {@code x·Wq (projected queries)} in a layer), for the error of a result that left the float32 range.
     */
    public static final class Magnitudes {
        private final double scale;
        private final int headDim;
        private final int qLen;
        private final int kvLen;
        private final Map<String, Double> q = new LinkedHashMap<>();
        private final Map<String, Double> k = new LinkedHashMap<>();
        private final Map<String, Double> v = new LinkedHashMap<>();
        private final Map<String, Double> additive = new LinkedHashMap<>(); // bias, sinks: added to scores
        private double alibi;
        private String alibiName;

        public Magnitudes(double scale, int headDim, int qLen, int kvLen) {
            this.scale = scale;
            this.headDim = headDim;
            this.qLen = qLen;
            this.kvLen = kvLen;
        }

        public Magnitudes q(String name, double maxAbs) {
            q.put(name, maxAbs);
            return this;
        }

        public Magnitudes k(String name, double maxAbs) {
            k.put(name, maxAbs);
            return this;
        }

        public Magnitudes v(String name, double maxAbs) {
            v.put(name, maxAbs);
            return this;
        }

        public Magnitudes additive(String name, double maxAbs) {
            additive.put(name, maxAbs);
            return this;
        }

        public Magnitudes alibi(String name, double maxAbs) {
            alibiName = name;
            alibi = maxAbs;
            return this;
        }

        private static double max(Map<String, Double> m) {
            double x = 0;
            for (double d : m.values()) x = Math.max(x, d);
            return x;
        }

        /** The reasons, each naming inputs and the bound they break; empty when every bound holds. */
        public List<String> beyondRange() {
            List<String> reasons = new ArrayList<>();
            double dot = max(q) * max(k) * headDim;
            double score = dot * Math.max(scale, 1); // the dot before scaling must fit too
            if (!(score <= MAX)) {
                reasons.add(names(q) + " and " + names(k) + ": max|q| = " + fmt(max(q)) + ", max|k| = " + fmt(max(k))
                        + " give scores up to max(1, scale) * max|q| * max|k| * headDim = " + fmt(score) + " > " + fmt(MAX));
            }
            double biased = dot * scale + max(additive) + alibi * ((double) qLen + kvLen);
            if (!(biased <= MAX) && (!additive.isEmpty() || alibiName != null) && score <= MAX) {
                List<String> who = new ArrayList<>(additive.keySet());
                if (alibiName != null) who.add(alibiName);
                reasons.add(String.join(", ", who) + ": biased scores reach " + fmt(biased) + " > " + fmt(MAX));
            }
            double values = max(v) * Math.max(kvLen, 1);
            if (!(values <= MAX)) {
                reasons.add(names(v) + ": max|v| = " + fmt(max(v)) + " summed over up to " + kvLen + " keys reaches "
                        + fmt(values) + " > " + fmt(MAX));
            }
            return reasons;
        }

        private static String names(Map<String, Double> m) {
            return String.join("/", m.keySet());
        }
    }

    /**
     * The error of a float32 result that came out non-finite: names the inputs beyond the float32-safe range, or
     * (when every bound holds, which would be a backend bug) all magnitudes.
     *
     * @param backend the backend's name
     * @param what    where it happened, e.g. {@code attention}, {@code layer step}
     */
    public static AttentionException overflow(String backend, String what, Magnitudes m) {
        List<String> reasons = m.beyondRange();
        String why = reasons.isEmpty()
                ? "a non-finite result from inputs within the float32 range (" + m.q + " " + m.k + " " + m.v + ")"
                : String.join("; ", reasons);
        return new AttentionException("backend '" + backend + "': " + what + " overflows float32: " + why
                + ". Inputs must stay within the float32-safe range; rescale them or use a float64 backend (reference)");
    }

    private static String fmt(double x) {
        return String.format("%.3g", x);
    }
}
