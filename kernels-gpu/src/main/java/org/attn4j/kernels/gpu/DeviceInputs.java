package org.attn4j.kernels.gpu;

import org.attn4j.api.AttentionException;
import org.attn4j.api.BoolTensor;
import org.attn4j.api.ContiguousKvCache;
import org.attn4j.api.DType;
import org.attn4j.api.KvCache;
import org.attn4j.api.PagedKvCache;
import org.attn4j.api.AttentionInputs;
import org.attn4j.api.Tensor;
import org.attn4j.api.Tensors;

/** Host-to-device staging shared by kernel plans and layer plans. */
final class DeviceInputs {
    private DeviceInputs() {
    }

    /**
     * A K or V buffer as the kernel reads it: elements of {@code type} in {@code mem}, and for {@link KvType#INT8} one
     * float scale per row of {@code width} elements in {@code scales} (0 otherwise).
     */
    record Stored(long mem, long scales, KvType type, int width) {
    }

    /** Float64 when the cache and every tensor are float64 and the device has cl_khr_fp64; float32 otherwise. */
    static RealType pathFor(ClDevice device, DType cacheType, Tensor... tensors) {
        return cacheType == DType.FLOAT64 ? pathFor(device, tensors) : RealType.FLOAT32;
    }

    /** Float64 when every tensor is float64 and the device has cl_khr_fp64; float32 otherwise. */
    static RealType pathFor(ClDevice device, Tensor... tensors) {
        if (!device.fp64()) return RealType.FLOAT32;
        for (Tensor t : tensors) {
            if (t != null && t.dtype() != DType.FLOAT64) return RealType.FLOAT32;
        }
        return RealType.FLOAT64;
    }

    /**
     * A view of {@code t} without its stride-0 broadcast copies: every axis whose stride is 0 shrinks to size 1, so
     * uploading it copies each distinct element once.
     */
    static Tensor compact(Tensor t) {
        Tensor c = t;
        for (int a = 0; a < t.rank(); a++) {
            if (t.stride(a) == 0 && t.size(a) > 1) c = c.slice(a, 0, 1);
        }
        return c;
    }

    /**
     * Strides over the score shape {@code [B, Hq, Lq, Lk]} for a contiguous array of shape {@code shape}
     * broadcast by NumPy's rules (trailing alignment): 0 on missing and size-1 axes.
     */
    static int[] broadcastStrides(int[] shape) {
        int[] own = Tensor.contiguousStrides(shape);
        int[] out = new int[4];
        int lead = 4 - shape.length;
        for (int a = 0; a < shape.length; a++) out[lead + a] = shape[a] == 1 ? 0 : own[a];
        return out;
    }

    /** Uploads the bias (each distinct element once) and sets its broadcast strides on {@code call}. */
    static void bindBias(AttendCall call, ClScope scope, Tensor bias, RealType real) {
        if (bias == null) return;
        Tensor c = compact(bias);
        call.bias = scope.upload(c, real);
        call.biasStrides = broadcastStrides(c.shape());
        if (c.elementCount() == 0) call.bias = 0; // an empty score matrix: nothing reads it
    }

    static void bindMask(AttendCall call, ClScope scope, BoolTensor mask) {
        if (mask == null) return;
        Tensor c = compact(mask);
        call.mask = scope.uploadBools((BoolTensor) c);
        call.maskStrides = broadcastStrides(c.shape());
        if (c.elementCount() == 0) {
            // Empty scores: no key is ever tested, but keep the flag off so the kernel never indexes it.
            call.mask = 0;
        }
    }

    /** Binds every input of a kernel call; q/k/v are uploaded as contiguous {@code [B, H, L, D]}. */
    static void bindInputs(AttendCall call, ClScope scope, AttentionInputs in, RealType real) {
        var spec = call.spec;
        int hq = spec.qHeads(), hkv = spec.kvHeads(), d = spec.headDim(), dv = spec.vHeadDim();
        int lq = in.qLen(), lk = in.kvLen();
        call.q(scope.upload(in.q(), real), hq * lq * d, lq * d, d);
        // reduced K/V go up as stored and are converted in the kernel; K and V of different types both as REAL
        Stored k = scope.uploadStored(in.k(), real);
        Stored v = scope.uploadStored(in.v(), real);
        if (k.type() != v.type()) {
            k = new Stored(scope.upload(in.k(), real), 0, KvType.REAL, d);
            v = new Stored(scope.upload(in.v(), real), 0, KvType.REAL, dv);
        }
        call.k(k, hkv * lk * d, lk * d, d);
        call.v(v, hkv * lk * dv, lk * dv, dv);
        bindBias(call, scope, in.bias(), real);
        bindMask(call, scope, in.mask());
        if (in.alibiSlopes() != null) call.slopes = scope.upload(in.alibiSlopes(), real);
        if (in.sinks() != null) call.sinks = scope.upload(in.sinks(), real);
        if (in.kvLens() != null) call.kvLens = scope.uploadInts(in.kvLens().toIntArray());
    }

    /**
     * Binds K, V, lengths (as kv_lens) and, for a paged cache, the block table: keys are read where the cache keeps
     * them (pages through the table; a contiguous slab up to the longest sequence), never gathered per token.
     * Other {@link KvCache} implementations are gathered into dense K/V by {@link KvCache#gather}.
     */
    static void bindCache(AttendCall call, ClScope scope, KvCache cache, RealType real) {
        AttentionException.require(cache.vHeadDim() > 0, "cache.vHeadDim", "> 0 for attention over K and V", cache.vHeadDim());
        bind(call, scope, cache, real, false);
    }

    /**
     * Binds a keys-only latent cache (MLA: one head {@code [c_kv | k_pe]} per token) as keys, and the same rows as
     * values: the attention spec's {@code vHeadDim = c} makes the kernel read only their first {@code c} columns.
     */
    static void bindLatentCache(AttendCall call, ClScope scope, KvCache cache, RealType real) {
        bind(call, scope, cache, real, true);
    }

    private static void bind(AttendCall call, ClScope scope, KvCache cache, RealType real, boolean valuesFromKeys) {
        int b = cache.sequences(), hkv = cache.kvHeads(), d = cache.headDim(), dv = cache.vHeadDim();
        int[] lens = new int[b];
        for (int s = 0; s < b; s++) lens[s] = cache.length(s);
        int maxLen = 0;
        for (int len : lens) maxLen = Math.max(maxLen, len);
        call.batch = b;
        call.kvLen = maxLen;
        Stored keys;
        switch (cache) {
            case OpenClKvCache c when c.readableOn(scope.context(), real) -> {
                // already on this device in a type the kernel reads: nothing to upload but the lengths (and table)
                keys = c.bind(call, scope, real, valuesFromKeys);
            }
            case PagedKvCache p -> {
                int ps = p.pageSize();
                int[][] tables = new int[b][];
                int pages = 1;
                for (int s = 0; s < b; s++) {
                    tables[s] = p.blockTable(s);
                    pages = Math.max(pages, tables[s].length);
                }
                int[] flat = new int[b * pages]; // padded with page 0, which the kernel never reads past a length
                for (int s = 0; s < b; s++) System.arraycopy(tables[s], 0, flat, s * pages, tables[s].length);
                keys = scope.uploadStored(p.keyPages(), real);
                call.k(keys, hkv * ps * d, ps * d, d);
                if (!valuesFromKeys) call.v(scope.uploadStored(p.valuePages(), real), hkv * ps * dv, ps * dv, dv);
                call.pageTable = scope.uploadInts(flat);
                call.pageSize = ps;
                call.pagesPerSeq = pages;
            }
            case ContiguousKvCache c -> {
                keys = scope.uploadStored(c.keyStore().slice(2, 0, maxLen), real);
                call.k(keys, hkv * maxLen * d, maxLen * d, d);
                if (!valuesFromKeys) {
                    call.v(scope.uploadStored(c.valueStore().slice(2, 0, maxLen), real), hkv * maxLen * dv, maxLen * dv, dv);
                }
            }
            default -> {
                // Any other cache (or a device cache the kernel cannot read as stored): its rows in its own type,
                // copied exactly (an int8 row keeps its scale); gather() needs values, so keys-only goes key by key.
                Tensor dense = Tensors.zeros(cache.dtype(), b, hkv, maxLen, d);
                for (int s = 0; s < b; s++) Tensors.copyInto(cache.keys(s), dense.select(0, s).slice(1, 0, lens[s]));
                keys = scope.uploadStored(dense, real);
                call.k(keys, hkv * maxLen * d, maxLen * d, d);
                if (!valuesFromKeys) {
                    Tensor values = Tensors.zeros(cache.dtype(), b, hkv, maxLen, dv);
                    for (int s = 0; s < b; s++) Tensors.copyInto(cache.values(s), values.select(0, s).slice(1, 0, lens[s]));
                    call.v(scope.uploadStored(values, real), hkv * maxLen * dv, maxLen * dv, dv);
                }
            }
        }
        if (valuesFromKeys) call.v(keys, call.ksB, call.ksH, call.ksL);
        call.kvLens = scope.uploadInts(lens);
    }
}
