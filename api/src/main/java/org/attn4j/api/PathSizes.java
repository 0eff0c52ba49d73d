package org.attn4j.api;

import java.util.List;
import java.util.TreeSet;

/**
 * The sizes at which a backend changes path: where its loops step, tile or split. A conformance suite tests
 * lengths and widths at each size, one below and one above ({@code n - 1, n, n + 1}) and over several tiles, so that
 * a backend's long paths (more than one KV tile, a second query tile, split-KV decode, vector tails) run on every
 * default run instead of by chance. Only a hint for tests: no size here changes results.
 *
 * @param kvTiles    keys per KV tile or step (a boundary of the key length)
 * @param queryRows  query rows per tile or path switch, counted as rows of a KV group ({@code group * qLen}); a test
 *                   reaches them with {@code qLen = n / group}
 * @param splitKeys  key lengths at which a decode (few work items) starts splitting the keys (split-KV); a test uses
 *                   longer ones with batch 1 and few KV heads
 * @param lanes      vector or work-group widths of the inner loops (boundaries of head_dim and v_head_dim)
 * @param pageSizes  tokens per page/tile of the KV caches {@link AttentionBackend#newKvCache} makes
 */
public record PathSizes(List<Integer> kvTiles, List<Integer> queryRows, List<Integer> splitKeys, List<Integer> lanes,
                        List<Integer> pageSizes) {
    /** A backend that names no sizes (the default): the suite falls back to generic powers of two. */
    public static final PathSizes NONE = new PathSizes(List.of(), List.of(), List.of(), List.of(), List.of());

    public PathSizes {
        kvTiles = checked("kvTiles", kvTiles);
        queryRows = checked("queryRows", queryRows);
        splitKeys = checked("splitKeys", splitKeys);
        lanes = checked("lanes", lanes);
        pageSizes = checked("pageSizes", pageSizes);
    }

    /** Whether no size is named. */
    public boolean isEmpty() {
        return all().isEmpty();
    }

    /** Every named size, sorted, without duplicates. */
    public List<Integer> all() {
        TreeSet<Integer> s = new TreeSet<>();
        s.addAll(kvTiles);
        s.addAll(queryRows);
        s.addAll(splitKeys);
        s.addAll(lanes);
        s.addAll(pageSizes);
        return List.copyOf(s);
    }

    /** An immutable copy, sorted and without duplicates, of positive sizes. */
    private static List<Integer> checked(String name, List<Integer> sizes) {
        AttentionException.require(sizes != null, name, "a list of sizes", "null");
        TreeSet<Integer> s = new TreeSet<>();
        for (Integer n : sizes) {
            AttentionException.require(n != null && n >= 1, name, "sizes >= 1", String.valueOf(n));
            s.add(n);
        }
        return List.copyOf(s);
    }
}
