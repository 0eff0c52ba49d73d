package org.attn4j.api;

/**
 * How a plan should run.
 *
 * @param threads    worker threads a plan may use (1 = the caller's thread only)
 * @param computeLse whether outputs carry the log-sum-exp
 * @param mlaPath    which MLA path layer plans use
 */
public record PlanOptions(int threads, boolean computeLse, MlaPath mlaPath) {
    /** MLA's two equivalent evaluation orders (DeepSeek-V2 §2.1.3). */
    public enum MlaPath {
        /** decompress {@code c_kv} into per-head K and V, then attend */
        NAIVE,
        /** fold {@code W_UK} into the query and {@code W_UV} after; attend over the latent cache */
        ABSORBED
    }

    public PlanOptions {
        AttentionException.require(threads >= 1, "threads", ">= 1", threads);
        if (mlaPath == null) mlaPath = MlaPath.ABSORBED;
    }

    public static PlanOptions defaults() {
        return new PlanOptions(Runtime.getRuntime().availableProcessors(), true, MlaPath.ABSORBED);
    }

    public PlanOptions withThreads(int threads) {
        return new PlanOptions(threads, computeLse, mlaPath);
    }

    public PlanOptions withLse(boolean computeLse) {
        return new PlanOptions(threads, computeLse, mlaPath);
    }

    public PlanOptions withMlaPath(MlaPath mlaPath) {
        return new PlanOptions(threads, computeLse, mlaPath);
    }
}
