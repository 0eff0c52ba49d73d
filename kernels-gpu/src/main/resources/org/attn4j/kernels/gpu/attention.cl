/*
 * attn4j OpenCL C 1.2 kernels: tiled attention with an online softmax, the split-KV merge, and a tiled
 * linear layer (y = x W^T + b) for the layer projections.
 *
 * Build options: -cl-std=CL1.2 -D REAL=float, or -D REAL=double -D USE_FP64=1 on devices with cl_khr_fp64;
 * -D KV_TYPE=0..3 chooses how attend reads K and V (below).
 * Semantics: golden/FORMAT.md ("For each score, in this order" steps 1-5, "Visibility").
 *
 * Nothing here depends on one device: tile sizes and the work-group size are kernel arguments / the launch
 * geometry, chosen on the host from the device's queried limits; local memory comes in as __local
 * arguments sized by the host.
 */
#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef REAL
#define REAL float
#endif

#define NEG_INF ((REAL) (-INFINITY))

/*
 * K/V storage (KvType.java): 0 = REAL; 1 = float16 (vload_half, core in 1.2); 2 = bfloat16 (ushort bits << 16);
 * 3 = int8 (char times the row's float scale, scale buffers kScale / vScale). Converted on load into local
 * memory: every score and sum is computed in REAL. KV_LOAD(p, i, sc, si): element i of p, scale si of sc.
 */
#ifndef KV_TYPE
#define KV_TYPE 0
#endif
#if KV_TYPE == 1
#define KV_T half
#define KV_LOAD(p, i, sc, si) ((REAL) vload_half((i), (p)))
#elif KV_TYPE == 2
#define KV_T ushort
#define KV_LOAD(p, i, sc, si) ((REAL) as_float(((uint) (p)[i]) << 16))
#elif KV_TYPE == 3
#define KV_T char
#define KV_LOAD(p, i, sc, si) ((REAL) ((float) (p)[i] * (sc)[si]))
#else
#define KV_T REAL
#define KV_LOAD(p, i, sc, si) ((p)[i])
#endif

/* flags of attend / merge_splits (mirrored in ClAttention.java) */
#define F_CAUSAL    1
#define F_TOP_LEFT  2
#define F_BIAS      4
#define F_MASK      8
#define F_ALIBI     16
#define F_SINKS     32
#define F_KV_LENS   64
#define F_LSE       128
#define F_PAGED     256

/*
 * Element offset of row j of a K or V head. Dense: [B, kvHeads, kvLen, width] addressed by strides
 * (sB, sH, sL). Paged: token j of sequence b is slot j % pageSize of page pageTable[b][j / pageSize],
 * pages laid out [pageCount, kvHeads, pageSize, width] with strides (sB = per page, sH, sL).
 */
inline int kv_row(int flags, __global const int* pageTable, int pageSize, int pagesPerSeq,
                  int b, int kvh, int j, int sB, int sH, int sL) {
    if (flags & F_PAGED) {
        int page = pageTable[b * pagesPerSeq + j / pageSize];
        return page * sB + kvh * sH + (j % pageSize) * sL;
    }
    return b * sB + kvh * sH + j * sL;
}

/*
 * One work-group per (batch b, KV head kvh, row tile, KV split). The rows of a tile are the (query i,
 * head-in-group g) pairs r = i * G + g with G = qHeads / kvHeads, so all query heads that share a KV head
 * share each K/V tile loaded into local memory (GQA/MQA sharing; for MHA G = 1). Query head h = kvh * G + g
 * reads KV head h / G = kvh, as FORMAT.md requires.
 *
 * The keys a tile can see are bounded first (kv_lens, causal diagonal, window, this split's range), so key
 * tiles outside that band are never loaded; inside, every score is still checked element by element.
 *
 * splits == 1: writes the final out (strides osB, osH, osL) and, with F_LSE, lse [B, Hq, Lq].
 * splits  > 1: writes this split's unnormalised accumulator to out (+ split * osS), and its running max and
 *              sum to partM / partL [splits, B, Hq, Lq]; merge_splits finishes.
 *
 * int8 K/V: the scale of row j is kScale[kv_row(..., kssB, kssH, kssL)] (the same addressing with the scales'
 * strides), likewise vScale; for the other types the scale arguments are unused.
 *
 * Local memory (sizes set by the host): lQ [tileQ, headDim], lK [tileK, headDim], lV [tileK, vHeadDim],
 * lO [tileQ, vHeadDim], lS [tileQ, tileK], lRow [3, tileQ] (running max, running sum, rescale factor).
 */
__kernel void attend(
        __global const REAL* q, const int qsB, const int qsH, const int qsL,
        __global const KV_T* k, const int ksB, const int ksH, const int ksL,
        __global const KV_T* v, const int vsB, const int vsH, const int vsL,
        __global const float* kScale, const int kssB, const int kssH, const int kssL,
        __global const float* vScale, const int vssB, const int vssH, const int vssL,
        __global const int* pageTable, const int pageSize, const int pagesPerSeq,
        __global const REAL* bias, const int bsB, const int bsH, const int bsI, const int bsJ,
        __global const uchar* mask, const int msB, const int msH, const int msI, const int msJ,
        __global const REAL* slopes, __global const REAL* sinks, __global const int* kvLens,
        __global REAL* out, const int osS, const int osB, const int osH, const int osL,
        __global REAL* lse, __global REAL* partM, __global REAL* partL,
        const int batch, const int qHeads, const int kvHeads, const int qLen, const int kvLen,
        const int headDim, const int vHeadDim, const REAL scale, const REAL softcap,
        const int flags, const int winLeft, const int winRight,
        const int tileQ, const int tileK, const int splits, const int splitLen,
        __local REAL* lQ, __local REAL* lK, __local REAL* lV, __local REAL* lO, __local REAL* lS,
        __local REAL* lRow) {
    const int G = qHeads / kvHeads;
    const int rows = G * qLen;
    const int rowTiles = (rows + tileQ - 1) / tileQ;
    int gid = get_group_id(0);
    const int split = gid % splits;  gid /= splits;
    const int tile = gid % rowTiles; gid /= rowTiles;
    const int kvh = gid % kvHeads;
    const int b = gid / kvHeads;
    const int lid = get_local_id(0);
    const int wg = get_local_size(0);

    const int r0 = tile * tileQ;
    const int nr = min(tileQ, rows - r0);
    const int lkb = (flags & F_KV_LENS) ? kvLens[b] : kvLen;
    const int shift = (flags & F_TOP_LEFT) ? 0 : lkb - qLen;   /* d_i = i + shift */
    const int causal = flags & F_CAUSAL;

    __local REAL* rowMax = lRow;
    __local REAL* rowSum = lRow + tileQ;
    __local REAL* rowAlpha = lRow + 2 * tileQ;

    /* Keys this tile may see: the union over its rows of each row's band (64-bit: d + window may overflow int). */
    const long dMin = (long) (r0 / G) + shift;
    const long dMax = (long) ((r0 + nr - 1) / G) + shift;
    long jlo = (long) split * splitLen;
    long jhi = min((long) lkb, jlo + splitLen);
    if (causal) jhi = min(jhi, dMax + 1);
    if (winLeft >= 0) jlo = max(jlo, dMin - winLeft);
    if (winRight >= 0) jhi = min(jhi, dMax + winRight + 1);

    for (int idx = lid; idx < nr * headDim; idx += wg) {
        int rr = idx / headDim, c = idx - rr * headDim;
        int r = r0 + rr;
        int h = kvh * G + r % G;
        lQ[idx] = q[b * qsB + h * qsH + (r / G) * qsL + c];
    }
    for (int idx = lid; idx < nr * vHeadDim; idx += wg) lO[idx] = 0;
    for (int rr = lid; rr < nr; rr += wg) {
        rowMax[rr] = NEG_INF;
        rowSum[rr] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (long jt = jlo; jt < jhi; jt += tileK) {
        const int j0 = (int) jt;
        const int nk = (int) min((long) tileK, jhi - jt);
        for (int idx = lid; idx < nk * headDim; idx += wg) {
            int kk = idx / headDim, c = idx - kk * headDim;
            lK[idx] = KV_LOAD(k, kv_row(flags, pageTable, pageSize, pagesPerSeq, b, kvh, j0 + kk, ksB, ksH, ksL) + c,
                              kScale, kv_row(flags, pageTable, pageSize, pagesPerSeq, b, kvh, j0 + kk, kssB, kssH, kssL));
        }
        for (int idx = lid; idx < nk * vHeadDim; idx += wg) {
            int kk = idx / vHeadDim, c = idx - kk * vHeadDim;
            lV[idx] = KV_LOAD(v, kv_row(flags, pageTable, pageSize, pagesPerSeq, b, kvh, j0 + kk, vsB, vsH, vsL) + c,
                              vScale, kv_row(flags, pageTable, pageSize, pagesPerSeq, b, kvh, j0 + kk, vssB, vssH, vssL));
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* Scores, in FORMAT.md's order. */
        for (int idx = lid; idx < nr * nk; idx += wg) {
            int rr = idx / nk, kk = idx - rr * nk;
            int r = r0 + rr;
            int i = r / G;
            int h = kvh * G + r % G;
            int j = j0 + kk;
            long d = (long) i + shift;
            /* 4. visibility first: a hidden key is -inf whatever steps 1-3 would give */
            bool visible = j < lkb
                    && (!causal || j <= d)
                    && (winLeft < 0 || j >= d - winLeft)
                    && (winRight < 0 || j <= d + winRight)
                    && (!(flags & F_MASK) || mask[b * msB + h * msH + i * msI + j * msJ] != 0);
            REAL s = NEG_INF;
            if (visible) {
                REAL dot = 0;
                __local const REAL* qr = lQ + rr * headDim;
                __local const REAL* kr = lK + kk * headDim;
                for (int c = 0; c < headDim; c++) dot += qr[c] * kr[c];
                s = scale * dot;                                                   /* 1. */
                if (softcap > 0) s = softcap * tanh(s / softcap);                  /* 2. */
                if (flags & F_BIAS) s += bias[b * bsB + h * bsH + i * bsI + j * bsJ]; /* 3. */
                if (flags & F_ALIBI) s -= slopes[h] * fabs((REAL) (d - j));
            }
            lS[rr * tileK + kk] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* Online softmax: new running max; while it is still -inf (no key seen yet) nothing is rescaled. */
        for (int rr = lid; rr < nr; rr += wg) {
            __local REAL* sr = lS + rr * tileK;
            REAL mOld = rowMax[rr];
            REAL mNew = mOld;
            for (int kk = 0; kk < nk; kk++) mNew = fmax(mNew, sr[kk]);
            REAL alpha = 1;
            REAL sum = 0;
            if (mNew != NEG_INF) {
                alpha = (mOld == NEG_INF) ? (REAL) 0 : exp(mOld - mNew);
                for (int kk = 0; kk < nk; kk++) {
                    REAL p = (sr[kk] == NEG_INF) ? (REAL) 0 : exp(sr[kk] - mNew);
                    sr[kk] = p;
                    sum += p;
                }
            } else {
                for (int kk = 0; kk < nk; kk++) sr[kk] = 0;
            }
            rowMax[rr] = mNew;
            rowSum[rr] = rowSum[rr] * alpha + sum;
            rowAlpha[rr] = alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int idx = lid; idx < nr * vHeadDim; idx += wg) {
            int rr = idx / vHeadDim, c = idx - rr * vHeadDim;
            __local const REAL* pr = lS + rr * tileK;
            REAL acc = lO[idx] * rowAlpha[rr];
            for (int kk = 0; kk < nk; kk++) acc += pr[kk] * lV[kk * vHeadDim + c];
            lO[idx] = acc;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (splits > 1) {
        for (int idx = lid; idx < nr * vHeadDim; idx += wg) {
            int rr = idx / vHeadDim, c = idx - rr * vHeadDim;
            int r = r0 + rr;
            int h = kvh * G + r % G;
            out[split * osS + b * osB + h * osH + (r / G) * osL + c] = lO[idx];
        }
        for (int rr = lid; rr < nr; rr += wg) {
            int r = r0 + rr;
            int h = kvh * G + r % G;
            int row = (b * qHeads + h) * qLen + r / G;
            partM[split * batch * qHeads * qLen + row] = rowMax[rr];
            partL[split * batch * qHeads * qLen + row] = rowSum[rr];
        }
        return;
    }

    /* Step 5 with the sink as one more denominator term; a row that saw no key gets out 0, lse -inf (or sink). */
    for (int rr = lid; rr < nr; rr += wg) {
        int r = r0 + rr;
        int h = kvh * G + r % G;
        REAL m = rowMax[rr];
        REAL l = rowSum[rr];
        REAL factor, logDen;
        if (flags & F_SINKS) {
            REAL sink = sinks[h];
            REAL top = fmax(m, sink);
            REAL w = (m == NEG_INF) ? (REAL) 0 : exp(m - top);
            REAL den = l * w + exp(sink - top);
            factor = w / den;
            logDen = top + log(den);
        } else if (m == NEG_INF) {
            factor = 0;
            logDen = NEG_INF;
        } else {
            factor = 1 / l;
            logDen = m + log(l);
        }
        rowAlpha[rr] = factor;
        if (flags & F_LSE) lse[(b * qHeads + h) * qLen + r / G] = logDen;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int idx = lid; idx < nr * vHeadDim; idx += wg) {
        int rr = idx / vHeadDim, c = idx - rr * vHeadDim;
        int r = r0 + rr;
        int h = kvh * G + r % G;
        out[b * osB + h * osH + (r / G) * osL + c] = lO[idx] * rowAlpha[rr];
    }
}

/*
 * Merges the splits of attend exactly (log-sum-exp): M = max_s m_s, l = sum_s l_s exp(m_s - M),
 * out = sum_s O_s exp(m_s - M) / (l + sink term). One work-item per (row, c), row = (b * Hq + h) * Lq + i.
 * partO is [splits, B, Hq, Lq, vHeadDim] contiguous; partM, partL [splits, B, Hq, Lq].
 */
__kernel void merge_splits(
        __global const REAL* partO, __global const REAL* partM, __global const REAL* partL,
        __global const REAL* sinks, __global REAL* out, const int osB, const int osH, const int osL,
        __global REAL* lse, const int batch, const int qHeads, const int qLen, const int vHeadDim,
        const int splits, const int flags) {
    const int rows = batch * qHeads * qLen;
    const int gid = get_global_id(0);
    if (gid >= rows * vHeadDim) return;
    const int row = gid / vHeadDim, c = gid - row * vHeadDim;
    const int i = row % qLen;
    const int h = (row / qLen) % qHeads;
    const int b = row / (qLen * qHeads);

    REAL top = NEG_INF;
    for (int s = 0; s < splits; s++) top = fmax(top, partM[s * rows + row]);
    if (flags & F_SINKS) top = fmax(top, sinks[h]);
    REAL den = 0;
    REAL acc = 0;
    if (top != NEG_INF) {
        for (int s = 0; s < splits; s++) {
            REAL m = partM[s * rows + row];
            if (m == NEG_INF) continue;   /* this split saw no key: contributes nothing */
            REAL w = exp(m - top);
            den += partL[s * rows + row] * w;
            acc += partO[(s * rows + row) * vHeadDim + c] * w;
        }
        if (flags & F_SINKS) den += exp(sinks[h] - top);
    }
    out[b * osB + h * osH + i * osL + c] = den > 0 ? acc / den : (REAL) 0;
    if ((flags & F_LSE) && c == 0) lse[row] = den > 0 ? top + log(den) : NEG_INF;
}

/*
 * y[m, n] = sum_k x[m, k] * w[n, k] (+ b[n]): PyTorch nn.Linear. x rows start at xOff + m * ldx, w rows at
 * wOff + n * K (contiguous), y rows at yOff + m * ldy: strided rows let a projection read or write one head's
 * columns of a wider [rows, heads * width] array in place.
 * Square TS x TS work-groups (TS = get_local_size(0) == get_local_size(1)); tx, tw are TS x TS local tiles.
 */
__kernel void linear(__global const REAL* x, const int xOff, const int ldx,
                     __global const REAL* w, const int wOff,
                     __global const REAL* bias,
                     __global REAL* y, const int yOff, const int ldy,
                     const int M, const int N, const int K, const int hasBias,
                     __local REAL* tx, __local REAL* tw) {
    const int ts = get_local_size(0);
    const int lc = get_local_id(0), lr = get_local_id(1);
    const int col = get_global_id(0), row = get_global_id(1);
    const int colBase = get_group_id(0) * ts;
    REAL acc = 0;
    for (int t = 0; t < K; t += ts) {
        tx[lr * ts + lc] = (row < M && t + lc < K) ? x[xOff + row * ldx + t + lc] : (REAL) 0;
        /* tw row lr holds w[colBase + lr, t .. t + ts) */
        tw[lr * ts + lc] = (colBase + lr < N && t + lc < K) ? w[wOff + (colBase + lr) * K + t + lc] : (REAL) 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < ts; kk++) acc += tx[lr * ts + kk] * tw[lc * ts + kk];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < M && col < N) y[yOff + row * ldy + col] = hasBias ? acc + bias[col] : acc;
}

/*
 * RMSNorm in place on rows: x[r * stride + offset + i] = x / sqrt(mean(x^2) + eps) * weight[i], i < n.
 * One work-item per row (these are small vectors next to the attention; a GPU port could use a work-group per row).
 */
__kernel void rms_norm(__global REAL* x, const int rows, const int stride, const int offset, const int n,
                       __global const REAL* weight, const REAL eps) {
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global REAL* p = x + r * stride + offset;
    REAL ss = 0;
    for (int i = 0; i < n; i++) ss += p[i] * p[i];
    const REAL rms = sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) p[i] = p[i] / rms * weight[i];
}

/*
 * RoPE: for row r, head h and pair i < dim / 2, reads (a, b) from src and writes (a cos - b sin, b cos + a sin) to
 * dst; the pair is (2i, 2i+1) when interleaved, else (i, i + dim/2). Vectors start at off + r * rowStride +
 * h * headStride in each buffer (src may equal dst: each work-item reads its pair before writing it).
 * cosT / sinT [rows, dim / 2] hold cos and sin of position(r) * theta^(-2i/dim), computed on the host in double.
 */
__kernel void rope(__global const REAL* src, const int srcOff, const int srcRow, const int srcHead,
                   __global REAL* dst, const int dstOff, const int dstRow, const int dstHead,
                   const int rows, const int heads, const int dim, const int interleaved,
                   __global const REAL* cosT, __global const REAL* sinT) {
    const int pairs = dim / 2;  /* ("half" is a type name in OpenCL C) */
    const int gid = get_global_id(0);
    if (gid >= rows * heads * pairs) return;
    const int i = gid % pairs;
    const int h = (gid / pairs) % heads;
    const int r = gid / (pairs * heads);
    const int ia = interleaved ? 2 * i : i;
    const int ib = interleaved ? 2 * i + 1 : i + pairs;
    __global const REAL* s = src + srcOff + r * srcRow + h * srcHead;
    __global REAL* d = dst + dstOff + r * dstRow + h * dstHead;
    const REAL c = cosT[r * pairs + i], sn = sinT[r * pairs + i];
    const REAL a = s[ia], b = s[ib];
    d[ia] = a * c - b * sn;
    d[ib] = b * c + a * sn;
}
