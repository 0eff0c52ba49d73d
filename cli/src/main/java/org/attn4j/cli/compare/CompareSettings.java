package org.attn4j.cli.compare;

import org.attn4j.api.AttentionException;
import org.attn4j.bench.Timing;

import java.util.List;

/**
 * What {@code attn compare} measures and how long it may take.
 *
 * @param context        tokens per sequence for the whole-model KV-cache column
 * @param prefillLen     prefill: {@code B = 1}, {@code L} queries over {@code L} keys
 * @param decodeKv       decode: {@code B = 1}, one query over this many cached keys
 * @param timing         how each kernel is warmed up and timed (before the backend's budget caps it)
 * @param backendSeconds time budget of one backend's kernels; each kernel gets a fair share of what is left, and kernels
 *                       that find it spent are not timed (and the notes say so)
 * @param backends       backends to measure; {@code null} = every available backend except the reference, empty = none
 * @param errorLen       the small random problem for the error column: prefill {@code errorLen x errorLen}, decode over
 *                       {@code 2·errorLen + 1} keys
 * @param threads        threads a plan may use
 */
public record CompareSettings(long context, int prefillLen, int decodeKv, Timing.Steady timing, double backendSeconds,
                              List<String> backends, int errorLen, int threads) {
    /** Default budget of one backend's kernels, seconds. */
    public static final double DEFAULT_BACKEND_SECONDS = 10;

    public CompareSettings {
        AttentionException.require(context >= 1, "context", ">= 1", context);
        AttentionException.require(prefillLen >= 1, "prefillLen", ">= 1", prefillLen);
        AttentionException.require(decodeKv >= 1, "decodeKv", ">= 1", decodeKv);
        AttentionException.require(timing != null, "timing", "timing settings", "null");
        AttentionException.require(backendSeconds > 0 && Double.isFinite(backendSeconds), "backendSeconds", "> 0", backendSeconds);
        AttentionException.require(errorLen >= 1, "errorLen", ">= 1", errorLen);
        AttentionException.require(threads >= 1, "threads", ">= 1", threads);
        backends = backends == null ? null : List.copyOf(backends);
    }

    /** Context 32768, prefill 512, decode over 4096 keys, default timing, 10 s per backend, all backends, all cores. */
    public static CompareSettings defaults() {
        return new CompareSettings(32768, 512, 4096, Timing.Steady.defaults(), DEFAULT_BACKEND_SECONDS, null, 29,
                Runtime.getRuntime().availableProcessors());
    }

    public CompareSettings withShapes(int newPrefillLen, int newDecodeKv) {
        return new CompareSettings(context, newPrefillLen, newDecodeKv, timing, backendSeconds, backends, errorLen, threads);
    }

    public CompareSettings withBackends(List<String> newBackends) {
        return new CompareSettings(context, prefillLen, decodeKv, timing, backendSeconds, newBackends, errorLen, threads);
    }

    public CompareSettings withTiming(Timing.Steady newTiming, double newBackendSeconds) {
        return new CompareSettings(context, prefillLen, decodeKv, newTiming, newBackendSeconds, backends, errorLen, threads);
    }

    public CompareSettings withErrorLen(int newErrorLen) {
        return new CompareSettings(context, prefillLen, decodeKv, timing, backendSeconds, backends, newErrorLen, threads);
    }

    public CompareSettings withThreads(int newThreads) {
        return new CompareSettings(context, prefillLen, decodeKv, timing, backendSeconds, backends, errorLen, newThreads);
    }

    public CompareSettings withContext(long newContext) {
        return new CompareSettings(newContext, prefillLen, decodeKv, timing, backendSeconds, backends, errorLen, threads);
    }
}
