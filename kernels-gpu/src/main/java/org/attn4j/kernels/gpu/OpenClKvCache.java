package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.DoubleTensor;
import org.attn4j.api.FloatTensor;
import org.attn4j.api.HalfTensor;
import org.attn4j.api.Int8Tensor;
import org.attn4j.api.KvCache;
import org.attn4j.api.KvCacheSpec;
import org.attn4j.api.Tensor;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;

import static org.lwjgl.opencl.CL10.CL_MEM_READ_WRITE;
import static org.lwjgl.opencl.CL11.clEnqueueReadBufferRect;
import static org.lwjgl.opencl.CL11.clEnqueueWriteBufferRect;

/**
 * A KV cache whose keys and values live in device buffers, in the cache's storage type (float32, float64, float16,
 * bfloat16 bits, or int8 bytes with a float32 scale per token and KV head). Made by {@link OpenClBackend#newKvCache}
 * (contiguous), {@link OpenClBackend#newPagedKvCache} (paged) and the opencl layers' {@code newCache}.
 *
 * <p>An append validates and stores the chunk on the host exactly as {@link ContiguousKvCache} does (through one,
 * as a staging buffer of the chunk's size: the same checks, errors and {@code Quantization}), then uploads only the new
 * rows, already in the stored type; a failed append writes nothing. Decoding on the same device reads the buffers in
 * place. {@link #keys} and {@link #values} download a sequence (a copy in the cache's type), so any backend can read
 * this cache too.
 *
 * <p>Layout: {@code units} blocks {@code [kvHeads, slots, width]} per buffer (and {@code [kvHeads, slots]} of int8
 * scales). Contiguous: one unit per sequence, {@code slots = maxLength}. Paged: {@code pageCount} pages of
 * {@code pageSize} slots shared through a block table per sequence and a free list, as {@code PagedKvCache}.
 *
 * <p>Device memory is released by {@link #close()}, or when the cache becomes unreachable; the cache keeps its
 * OpenCL context alive until then.
 */
public final class OpenClKvCache implements KvCache, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final ClContext ctx;
    private final DType dtype;
    private final int sequences, kvHeads, maxLength, headDim, vHeadDim;
    private final boolean paged;
    private final int slots, units;
    private final int[] lengths;
    /** paged: the pages of each sequence in token order; contiguous: unit s for sequence s */
    private final int[][] blockTables;
    private final int[] pagesHeld;
    private final ArrayDeque<Integer> freePages = new ArrayDeque<>();
    private final Buffers buffers;
    private final Cleaner.Cleanable cleanable;
    private boolean closed;

    /** The device buffers, released by the cleaner (which must not reach the cache itself). */
    private record Buffers(ClContext ctx, long keys, long values, long keyScales, long valueScales) implements Runnable {
        @Override
        public void run() {
            try {
                for (long m : new long[]{keys, values, keyScales, valueScales}) ctx.releaseBuffer(m);
            } finally {
                ctx.release();
            }
        }
    }

    /** A contiguous device cache of {@code spec}. */
    static OpenClKvCache contiguous(ClContext ctx, KvCacheSpec spec) {
        return new OpenClKvCache(ctx, spec, false, Math.max(1, spec.maxLength()), spec.sequences());
    }

    /** A paged device cache of {@code spec}: {@code pageCount} pages of {@code pageSize} tokens. */
    static OpenClKvCache paged(ClContext ctx, KvCacheSpec spec, int pageSize, int pageCount) {
        AttentionException.require(pageSize >= 1, "pageSize", ">= 1", pageSize);
        AttentionException.require(pageCount >= 1, "pageCount", ">= 1", pageCount);
        return new OpenClKvCache(ctx, spec, true, pageSize, pageCount);
    }

    private OpenClKvCache(ClContext ctx, KvCacheSpec spec, boolean paged, int slots, int units) {
        AttentionException.require(spec != null, "spec", "a KV-cache spec", "null");
        this.dtype = spec.dtype();
        this.sequences = spec.sequences();
        this.kvHeads = spec.kvHeads();
        this.maxLength = spec.maxLength();
        this.headDim = spec.headDim();
        this.vHeadDim = spec.vHeadDim();
        this.paged = paged;
        this.slots = slots;
        this.units = units;
        this.lengths = new int[sequences];
        this.pagesHeld = new int[sequences];
        if (paged) {
            int perSequence = (int) Math.min(units, ((long) maxLength + slots - 1) / slots);
            this.blockTables = new int[sequences][perSequence];
            for (int p = 0; p < units; p++) freePages.add(p);
        } else {
            this.blockTables = new int[sequences][];
            for (int s = 0; s < sequences; s++) blockTables[s] = new int[]{s};
        }
        long rows = (long) units * kvHeads * slots;
        // the kernels index with 32-bit ints: no buffer may pass 2^31 elements
        if (rows * Math.max(headDim, vHeadDim) > Integer.MAX_VALUE) {
            throw AttentionException.invalid("spec", "at most 2^31 - 1 cached elements per buffer on opencl",
                    rows * Math.max(headDim, vHeadDim));
        }
        ctx.retain();
        long k = 0, v = 0, ks = 0, vs = 0;
        try {
            k = ctx.createBuffer(CL_MEM_READ_WRITE, rows * headDim * dtype.bytes(), null);
            if (vHeadDim > 0) v = ctx.createBuffer(CL_MEM_READ_WRITE, rows * vHeadDim * dtype.bytes(), null);
            if (dtype == DType.INT8) {
                ks = ctx.createBuffer(CL_MEM_READ_WRITE, rows * Float.BYTES, null);
                if (vHeadDim > 0) vs = ctx.createBuffer(CL_MEM_READ_WRITE, rows * Float.BYTES, null);
            }
        } catch (RuntimeException e) {
            new Buffers(ctx, k, v, ks, vs).run();
            throw e;
        }
        this.ctx = ctx;
        this.buffers = new Buffers(ctx, k, v, ks, vs);
        this.cleanable = CLEANER.register(this, buffers);
    }

    @Override public DType dtype() { return dtype; }
    @Override public int sequences() { return sequences; }
    @Override public int kvHeads() { return kvHeads; }
    @Override public int headDim() { return headDim; }
    @Override public int vHeadDim() { return vHeadDim; }
    @Override public int maxLength() { return maxLength; }

    /** Whether the pages are shared through block tables (else one slab per sequence). */
    public boolean isPaged() {
        return paged;
    }

    /** Tokens per page (paged), or the slab length (contiguous, at least 1). */
    public int pageSize() {
        return slots;
    }

    /** Free pages of a paged cache (a contiguous cache has none to share: 0). */
    public synchronized int freePageCount() {
        return paged ? freePages.size() : 0;
    }

    /** The pages of a sequence in token order (a copy); a contiguous cache's sequence {@code s} is unit {@code s}. */
    public synchronized int[] blockTable(int sequence) {
        checkSequence(sequence);
        return paged ? Arrays.copyOf(blockTables[sequence], pagesHeld[sequence]) : new int[]{sequence};
    }

    @Override
    public synchronized int length(int sequence) {
        checkSequence(sequence);
        return lengths[sequence];
    }

    @Override
    public synchronized void append(Tensor k, Tensor v) {
        requireOpen();
        AttentionException.require(k != null && k.rank() == 4, "k.rank", 4, k == null ? "null" : k.rank());
        int n = k.size(2);
        // shapes, values and rounding exactly as a host cache of this type; throws before anything is written
        ContiguousKvCache staged = new ContiguousKvCache(dtype, sequences, kvHeads, n, headDim, vHeadDim);
        staged.append(k, v);
        int[] counts = new int[sequences];
        Arrays.fill(counts, n);
        write(staged, counts, -1);
    }

    @Override
    public synchronized void append(int sequence, Tensor k, Tensor v) {
        requireOpen();
        checkSequence(sequence);
        AttentionException.require(k != null && k.rank() == 3, "k.rank", 3, k == null ? "null" : k.rank());
        int n = k.size(1);
        ContiguousKvCache staged = new ContiguousKvCache(dtype, 1, kvHeads, n, headDim, vHeadDim);
        staged.append(0, k, v);
        int[] counts = new int[sequences];
        counts[sequence] = n;
        write(staged, counts, sequence);
    }

    /**
     * Claims room (throwing, having changed nothing, when a sequence or the page pool is full), uploads the staged
     * rows to their units and slots, then grows the lengths. {@code only}: the one sequence the staging holds, or -1
     * for all.
     */
    private void write(ContiguousKvCache staged, int[] counts, int only) {
        for (int s = 0; s < sequences; s++) requireRoom("append", s, counts[s]);
        int[] heldBefore = pagesHeld.clone();
        if (paged) {
            int needed = 0;
            for (int s = 0; s < sequences; s++) needed += pagesFor(lengths[s] + counts[s]) - pagesHeld[s];
            if (needed > freePages.size()) {
                throw AttentionException.invalid("append", "at most " + freePages.size() + " free pages", needed + " pages needed");
            }
            for (int s = 0; s < sequences; s++) {
                int want = pagesFor(lengths[s] + counts[s]);
                while (pagesHeld[s] < want) blockTables[s][pagesHeld[s]++] = freePages.poll();
            }
        }
        try {
            upload(staged.keyStore(), buffers.keys, buffers.keyScales, headDim, counts, only);
            if (vHeadDim > 0) upload(staged.valueStore(), buffers.values, buffers.valueScales, vHeadDim, counts, only);
        } catch (RuntimeException e) {
            for (int s = 0; s < sequences; s++) releasePagesFrom(s, heldBefore[s]); // the rows claimed for this append
            throw e;
        }
        for (int s = 0; s < sequences; s++) lengths[s] += counts[s];
    }

    /** Uploads a staged store {@code [B', kvHeads, n, width]} (contiguous, offset 0) row run by row run. */
    private void upload(Tensor store, long mem, long scales, int width, int[] counts, int only) {
        int n = store.size(2);
        if (n == 0) return;
        ByteBuffer host = hostBytes(store);
        ByteBuffer hostScales = dtype == DType.INT8 ? hostScales((Int8Tensor) store) : null;
        try {
            for (int s = 0; s < sequences; s++) {
                if (counts[s] == 0) continue;
                int src = only < 0 ? s : 0;
                for (int t = 0; t < n; ) {
                    int pos = lengths[s] + t;
                    int unit = blockTables[s][pos / slots];
                    int slot = pos % slots;
                    int run = Math.min(n - t, slots - slot);
                    rect(true, mem, host, dtype.bytes() * (long) width, unit, slot, src, t, n, run);
                    if (hostScales != null) rect(true, scales, hostScales, Float.BYTES, unit, slot, src, t, n, run);
                    t += run;
                }
            }
        } finally {
            MemoryUtil.memFree(host);
            if (hostScales != null) MemoryUtil.memFree(hostScales);
        }
    }

    /**
     * One rectangular transfer of {@code run} rows for every KV head: device rows {@code slot..} of {@code unit} (a
     * block {@code [kvHeads, slots, rowBytes]}) to or from host rows {@code t..} of block {@code hostBlock} (a block
     * {@code [kvHeads, hostRows, rowBytes]}). Blocking: the host memory may be freed when it returns.
     */
    private void rect(boolean write, long mem, ByteBuffer host, long rowBytes, int unit, int slot, int hostBlock, int t,
                      int hostRows, int run) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer devOrigin = stack.mallocPointer(3).put(0, slot * rowBytes).put(1, 0).put(2, unit);
            PointerBuffer hostOrigin = stack.mallocPointer(3).put(0, t * rowBytes).put(1, 0).put(2, hostBlock);
            PointerBuffer region = stack.mallocPointer(3).put(0, run * rowBytes).put(1, kvHeads).put(2, 1);
            long devRow = slots * rowBytes, devSlice = devRow * kvHeads;
            long hostRow = hostRows * rowBytes, hostSlice = hostRow * kvHeads;
            int status = write
                    ? clEnqueueWriteBufferRect(ctx.queue(), mem, true, devOrigin, hostOrigin, region, devRow, devSlice,
                            hostRow, hostSlice, host, null, null)
                    : clEnqueueReadBufferRect(ctx.queue(), mem, true, devOrigin, hostOrigin, region, devRow, devSlice,
                            hostRow, hostSlice, host, null, null);
            ClError.check(status, write ? "clEnqueueWriteBufferRect" : "clEnqueueReadBufferRect");
        }
    }

    /** The stored elements of a contiguous tensor (offset 0) as native-order bytes; the caller frees them. */
    private static ByteBuffer hostBytes(Tensor t) {
        int n = t.elementCount();
        ByteBuffer b = MemoryUtil.memAlloc(ClScope.checkedBytes(n, t.dtype().bytes()));
        switch (t) {
            case FloatTensor f -> b.asFloatBuffer().put(f.data(), f.offset(), n);
            case DoubleTensor d -> b.asDoubleBuffer().put(d.data(), d.offset(), n);
            case HalfTensor h -> b.asShortBuffer().put(h.bits(), h.offset(), n);
            case Int8Tensor i -> b.put(0, i.data(), i.offset(), n);
            default -> throw new IllegalStateException("a staged store of " + t.dtype());
        }
        return b;
    }

    private static ByteBuffer hostScales(Int8Tensor t) {
        float[] scales = t.scales();
        ByteBuffer b = MemoryUtil.memAlloc(ClScope.checkedBytes(Math.max(1, scales.length), Float.BYTES));
        b.asFloatBuffer().put(scales);
        return b;
    }

    @Override
    public synchronized Tensor keys(int sequence) {
        checkSequence(sequence);
        requireOpen();
        return download(sequence, buffers.keys, buffers.keyScales, headDim);
    }

    @Override
    public synchronized Tensor values(int sequence) {
        checkSequence(sequence);
        AttentionException.require(vHeadDim > 0, "values", "a cache with vHeadDim > 0", "a keys-only cache");
        requireOpen();
        return download(sequence, buffers.values, buffers.valueScales, vHeadDim);
    }

    /** Sequence {@code s}'s rows {@code [kvHeads, length, width]}, read back into a new tensor of the cache's type. */
    private Tensor download(int s, long mem, long scales, int width) {
        int len = lengths[s];
        int n = kvHeads * len * width;
        ByteBuffer host = MemoryUtil.memAlloc(ClScope.checkedBytes(Math.max(1, n), dtype.bytes()));
        ByteBuffer hostScales = dtype == DType.INT8 ? MemoryUtil.memAlloc(Math.max(1, kvHeads * len) * Float.BYTES) : null;
        try {
            for (int t = 0; t < len; ) {
                int unit = blockTables[s][t / slots];
                int slot = t % slots;
                int run = Math.min(len - t, slots - slot);
                rect(false, mem, host, dtype.bytes() * (long) width, unit, slot, 0, t, len, run);
                if (hostScales != null) rect(false, scales, hostScales, Float.BYTES, unit, slot, 0, t, len, run);
                t += run;
            }
            return switch (dtype) {
                case FLOAT32 -> {
                    float[] a = new float[n];
                    host.asFloatBuffer().get(a);
                    yield FloatTensor.of(a, kvHeads, len, width);
                }
                case FLOAT64 -> {
                    double[] a = new double[n];
                    host.asDoubleBuffer().get(a);
                    yield DoubleTensor.of(a, kvHeads, len, width);
                }
                case FLOAT16, BFLOAT16 -> {
                    short[] a = new short[n];
                    host.asShortBuffer().get(a);
                    yield HalfTensor.of(dtype, a, kvHeads, len, width);
                }
                case INT8 -> {
                    byte[] a = new byte[n];
                    host.get(0, a);
                    float[] sc = new float[kvHeads * len];
                    hostScales.asFloatBuffer().get(sc);
                    yield Int8Tensor.of(a, sc, kvHeads, len, width);
                }
                default -> throw new IllegalStateException("a cache of " + dtype);
            };
        } finally {
            MemoryUtil.memFree(host);
            if (hostScales != null) MemoryUtil.memFree(hostScales);
        }
    }

    /** Whether an attend on {@code context}'s {@code real} path reads this cache in place. */
    boolean readableOn(ClContext context, RealType real) {
        return context == ctx && KvType.readable(dtype, real) != null;
    }

    /**
     * Binds K and V (or, keys-only, returns the keys for the caller to bind as values too) and, paged, the block
     * table; {@code call.batch} and {@code call.kvLen} are already set by the caller.
     */
    synchronized DeviceInputs.Stored bind(AttendCall call, ClScope scope, RealType real, boolean valuesFromKeys) {
        requireOpen();
        KvType type = KvType.readable(dtype, real);
        DeviceInputs.Stored k = new DeviceInputs.Stored(buffers.keys, buffers.keyScales, type, headDim);
        call.k(k, kvHeads * slots * headDim, slots * headDim, headDim);
        if (!valuesFromKeys) {
            call.v(new DeviceInputs.Stored(buffers.values, buffers.valueScales, type, vHeadDim),
                    kvHeads * slots * vHeadDim, slots * vHeadDim, vHeadDim);
        }
        if (paged) {
            int pages = 1;
            for (int s = 0; s < sequences; s++) pages = Math.max(pages, pagesHeld[s]);
            int[] flat = new int[sequences * pages]; // padded with page 0, never read past a length
            for (int s = 0; s < sequences; s++) System.arraycopy(blockTables[s], 0, flat, s * pages, pagesHeld[s]);
            call.pageTable = scope.uploadInts(flat);
            call.pageSize = slots;
            call.pagesPerSeq = pages;
        }
        return k;
    }

    private int pagesFor(int tokens) {
        return (tokens + slots - 1) / slots;
    }

    private void releasePagesFrom(int s, int keep) {
        if (!paged) return;
        for (int i = keep; i < pagesHeld[s]; i++) freePages.add(blockTables[s][i]);
        pagesHeld[s] = Math.min(pagesHeld[s], keep);
    }

    @Override
    public synchronized void truncate(int sequence, int length) {
        checkSequence(sequence);
        AttentionException.require(length >= 0 && length <= lengths[sequence], "length",
                "in [0, " + lengths[sequence] + "] (the current length of sequence " + sequence + ")", length);
        lengths[sequence] = length;
        releasePagesFrom(sequence, pagesFor(length));
    }

    /** Empties one sequence (a paged cache returns its pages to the free list). */
    public synchronized void release(int sequence) {
        truncate(sequence, 0);
    }

    @Override
    public synchronized void reset() {
        for (int s = 0; s < sequences; s++) truncate(s, 0);
    }

    private void checkSequence(int sequence) {
        AttentionException.require(sequence >= 0 && sequence < sequences, "sequence", "in [0, " + sequences + ")", sequence);
    }

    private void requireOpen() {
        if (closed) throw new AttentionException("opencl: the KV cache is closed");
    }

    /** Releases the device buffers (idempotent); the cache is unusable afterwards. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "OpenClKvCache[" + dtype + (paged ? ", paged " + units + " x " + slots : ", contiguous")
                + ", " + sequences + " x " + kvHeads + " x " + maxLength + " x (" + headDim + ", " + vHeadDim + ")]";
    }
}
