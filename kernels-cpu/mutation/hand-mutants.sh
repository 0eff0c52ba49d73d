#!/usr/bin/env bash
# Re-checks PIT survivors that a TCK change was meant to kill, one mutant at a time, without a full PIT run (a
# FlashEngine shard takes ~2 h 40 min on 2 cores). Each mutant is PIT's own mutation, written as a sed edit of one
# line of a kernels-cpu class; the script applies it in a scratch copy of the repository, runs CpuTckTest with the
# named checks (the installed conformance jar: run `mvn -pl conformance -am install -DskipTests` first) and reports
# KILLED (a TCK check failed) or SURVIVED. A mutant whose line no longer matches is reported STALE, one whose edit did
# not apply NOT APPLIED, a failed build without a failing check ERROR; each of those, and SURVIVED, exits non-zero.
#
#   kernels-cpu/mutation/hand-mutants.sh [scratch-dir]      # default scratch: /tmp/attn4j-hand-mutants
#
# Environment: MVN_FLAGS (e.g. -o), ITERATIONS (random cases per TCK check, default 10, as in the PIT runs),
# ONLY (a substring: only the mutants whose id contains it).
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/attn4j-hand-mutants}"
rm -rf "$work"
git -C "$repo" worktree prune
git -C "$repo" worktree add -q --detach "$work" HEAD
trap 'git -C "$repo" worktree remove --force "$work"' EXIT
dir=kernels-cpu/src/main/java/org/attn4j/kernels/cpu

READ=kernel/layouts,boundary-reduced,meta/reduced-storage   # the checks that build int8 views (Layout.MISALIGNED)
# class | id | PIT's line (at the commit PIT ran on; the script finds the line's text near it) | the line's text before | after | TCK checks (substrings)
all_mutants=(
  "FlashEngine|visible-windowRight-boundary|371|if (c.windowRight >= 0)|if (c.windowRight > 0)|kernel/boundary-lengths"
  "FlashEngine|merge-head-div-to-mul|644|int head = item / lay.qTiles();|int head = item * lay.qTiles();|kernel/boundary-split-kv"
  "FlashEngine|merge-i0-mul-to-div|652|int i0 = qTile * lay.queries();|int i0 = qTile / lay.queries();|kernel/boundary-split-kv"
  "FlashEngine|merge-nq-sub-to-add|653|int nq = Math.min(lay.queries(), c.qLen - i0);|int nq = Math.min(lay.queries(), c.qLen + i0);|kernel/boundary-split-kv"
  "FlashEngine|pack-tile-end-sub-to-add|349|n = Math.min(n, tile - j0 % tile);|n = Math.min(n, tile + j0 % tile);|kernel/boundary-decode-cache"
  # decode() over a tiled cache, then run() on the same plan: the prefill needs a longer score scratch at the same rows
  "FlashEngine|scratch-fits-scores-negated|168|s.length >= scoreFloats|s.length < scoreFloats|kernel/boundary-decode-cache"
  # the overflow scan after a call must look at every sequence, head and query (kernel/input-range's last probe)
  "FlashEngine|finite-scan-batch-mul-to-div|223|b * c.outSB + h|b / c.outSB + h|kernel/input-range"
  "FlashEngine|finite-scan-head-mul-to-div|223|h * c.outSH + i|h / c.outSH + i|kernel/input-range"
  "FlashEngine|finite-scan-query-mul-to-div|223|i * c.outSL;|i / c.outSL;|kernel/input-range"
  "FlashEngine|score-half-tiled-c0-add-to-sub|530|keys.kRow() + c0, c.kv.ktStride()|keys.kRow() - c0, c.kv.ktStride()|kernel/boundary-reduced-storage"
  # what AttentionBackend promises before any attention: backend/entry-points
  "CpuBackend|backend-name-empty|62|        return NAME;|        return \"\";|backend/entry-points"
  "CpuBackend|storage-null-require-removed|102|AttentionException.require(dtype != null, \"dtype\", \"a dtype\", \"null\");|;|backend/entry-points"
  "CpuBackend|storage-non-input-null|104|return super.supportStorage(dtype);|return null;|backend/entry-points"
  "CpuBackend|cache-null-require-removed|114|AttentionException.require(spec != null, \"spec\", \"a KV-cache spec\", \"null\");|;|backend/entry-points"
  # a layer whose attention is finite but whose output projection passes float32 (layer/input-range's y = 4e38 probes)
  "CpuStandardLayerPlan|layer-y-finite-removed|137|Linear.requireFinite(\"y = attention·wo + bo (x or wo beyond the float32-safe range)\", y);|;|layer/input-range"
  "CpuMlaLayerPlan|mla-naive-y-finite-removed|266|Linear.requireFinite(\"y = attention·w_o (x or w_o beyond the float32-safe range)\", y);|;|layer/input-range"
  "CpuMlaLayerPlan|mla-absorbed-y-finite-removed|317|Linear.requireFinite(\"y = attention·w_o (x or w_o beyond the float32-safe range)\", y);|;|layer/input-range"
  "CpuMlaLayerPlan|mla-absorbed-diagnosis-null|311|() -> FlashEngine.magnitudesOf(c, \"x (absorbed queries)\", \"x (latents)\", \"x (latents)\")|() -> (org.attn4j.api.Float32Range.Magnitudes) null|layer/input-range"
  # decode's own argument checks and the keys-only (latent) cache read (kernel/decode-*)
  "CpuAttentionPlan|decode-top-left-causal-negated|96|if ((spec.causal() |if ((!spec.causal() |kernel/decode-rejects-bad-input"
  "CpuAttentionPlan|decode-keys-only-width-removed|107|AttentionException.require(spec.vHeadDim() <= spec.headDim(), \"spec.vHeadDim\",|AttentionException.require(spec.vHeadDim() == spec.vHeadDim(), \"spec.vHeadDim\",|kernel/decode-rejects-bad-input"
  "CpuAttentionPlan|decode-latent-false|114|        return latent;|        return false;|kernel/decode-keys-only-cache"
  # decode's lse follows PlanOptions.computeLse, as run's does (a decode without one fails when run returns one)
  "CpuAttentionPlan|decode-lse-negated|85|FloatTensor lse = options.computeLse() ? FloatTensor.zeros(b, spec.qHeads(), lq) : null;|FloatTensor lse = !options.computeLse() ? FloatTensor.zeros(b, spec.qHeads(), lq) : null;|kernel/decode-contiguous-cache"
  # a refused layer step rolls its cache back (layer/input-range checks the lengths); a plan knows its problem
  "CpuStandardLayerPlan|restore-lengths-removed|127|cache.restoreLengths(before);|;|layer/input-range"
  "CpuMlaLayerPlan|mla-naive-restore-lengths-removed|165|cache.restoreLengths(before);|;|layer/input-range"
  "CpuMlaLayerPlan|mla-absorbed-restore-lengths-removed|180|cache.restoreLengths(before);|;|layer/input-range"
  "CpuAttentionPlan|plan-problem-null|36|        return problem;|        return null;|backend/entry-points"
  # the float32 copy of a float64 latent cache: per-sequence strides (caller caches of two or three sequences)
  # the overflow diagnosis over the stored latents (MLA absorbed path over float32, float16, bfloat16 and int8 caches)
  "KvSource|store-length-negated|83|return f != null ? f.length|return f == null ? f.length|layer/input-range"
  "KvSource|store-length-zero|83|return f != null ? f.length : h != null ? h.length : b.length;|return 0;|layer/input-range"
  "KvSource|store-at-f-negated|88|if (f != null) return f[i];|if (f == null) return f[i];|layer/input-range"
  "KvSource|store-at-int8-mul-to-div|89|return b[i] * scales[i / pitch];|return b[i] / scales[i / pitch];|layer/input-range"
  "KvSource|store-at-int8-zero|89|if (b != null) return b[i] * scales[i / pitch];|if (b != null) return 0.0f;|layer/input-range"
  "KvSource|store-at-int8-index-div-to-mul|89|return b[i] * scales[i / pitch];|return b[i] * scales[i * pitch];|layer/input-range"
  "KvSource|store-at-int8-negated|89|if (b != null) return b[i] * scales[i / pitch];|if (b == null) return b[i] * scales[i / pitch];|layer/input-range"
  "KvSource|store-at-bf16-negated|90|return dtype == DType.BFLOAT16 ?|return dtype != DType.BFLOAT16 ?|layer/input-range"
  "KvSource|store-at-half-zero|90|return dtype == DType.BFLOAT16 ? Float.intBitsToFloat(h[i] << 16) : Float.float16ToFloat(h[i]);|return 0.0f;|layer/input-range"
  "KvSource|maxabs-f-negated|125|if (f != null) return Float32Range.maxAbs(f, 0, f.length);|if (f == null) return Float32Range.maxAbs(f, 0, f.length);|layer/input-range"
  "KvSource|maxabs-f-zero|125|if (f != null) return Float32Range.maxAbs(f, 0, f.length);|if (f != null) return 0.0;|layer/input-range"
  "KvSource|maxabs-loop-boundary|128|for (int i = 0; i < n; i++) m = Math.max|for (int i = 0; i <= n; i++) m = Math.max|layer/input-range"
  "KvSource|maxabs-loop-negated|128|for (int i = 0; i < n; i++) m = Math.max|for (int i = 0; i >= n; i++) m = Math.max|layer/input-range"
  "KvSource|maxabs-loop-decrement|128|for (int i = 0; i < n; i++) m = Math.max|for (int i = 0; i < n; i--) m = Math.max|layer/input-range"
  "KvSource|maxabs-return-zero|129|            return m;|            return 0.0;|layer/input-range"
  "KvSource|copy-latent-k-stride|420|new Strided(k, 0, h * len * d, len * d, d, k|new Strided(k, 0, h / len * d, len * d, d, k|caller-caches"
  "KvSource|copy-latent-v-stride|420|d, k, 0, h * len * d, len * d, d, lengths)|d, k, 0, h / len * d, len * d, d, lengths)|caller-caches"
  # int8 views whose rows straddle two scale rows must not be read in place (Layout.MISALIGNED)
  "KvSource|readable-row-end-add-to-sub|343|t.offset() % pitch + w > pitch|t.offset() % pitch - w > pitch|$READ"
  "KvSource|readable-row-end-negated|343|t.offset() % pitch + w > pitch|t.offset() % pitch + w <= pitch|$READ"
  "KvSource|readable-stride-size-negated|345|t.size(a) > 1 && t.stride(a) % pitch != 0|t.size(a) <= 1 && t.stride(a) % pitch != 0|$READ"
  "KvSource|readable-loop-negated|344|for (int a = 0; a < t.rank() - 1; a++)|for (int a = 0; a >= t.rank() - 1; a++)|$READ"
  "KvSource|readable-row-end-true|343|if (t.offset() % pitch + w > pitch) return false;|if (t.offset() % pitch + w > pitch) return true;|$READ"
  "KvSource|readable-stride-true|345|t.stride(a) % pitch != 0) return false;|t.stride(a) % pitch != 0) return true;|$READ"
  # a bias broadcast over the keys (key stride 0) on full tiles, and a per-key bias read every other float (PADDED)
  "vector/VectorCpuKernels|addStrided-stride0-negated|889|} else if (srcStride == 0 && n >= L) {|} else if (srcStride != 0 && n >= L) {|kernel/boundary-lengths"
  "vector/VectorCpuKernels|addStrided-broadcast-bound-sub-to-add|891|for (; c <= n - L; c += L) FloatVector.fromArray(F, a, off + c).add(x)|for (; c <= n + L; c += L) FloatVector.fromArray(F, a, off + c).add(x)|kernel/boundary-lengths"
  # head dims no multiple of the lanes over float16/bfloat16 keys: the scalar tails of dot4F16 (key pair) and dot4Bf16 (lone key)
  "vector/VectorCpuKernels|dot4F16-pair-tail-mul-to-div|479|t0 += q[q0 + e] * kk;|t0 += q[q0 + e] / kk;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|dot4Bf16-lone-tail-mul-to-div|404|t0 += q[q0 + e] * kk;|t0 += q[q0 + e] / kk;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|dot4Bf16-lone-loop-negated|391|for (; e <= d - L; e += L) {|for (; e > d - L; e += L) {|kernel/boundary-reduced-storage"
  # packed keys scored for a last block of 2 or 3 rows over a double tile (two steps of 4 vectors of columns)
  "vector/VectorCpuKernels|transposed2-kb-add-to-sub|783|int kb = ktOff + c;|int kb = ktOff - c;|kernel/boundary-lengths"
  "vector/VectorCpuKernels|transposed2-store-add-to-sub|804|a10.mul(scale).intoArray(s, s1 + c);|a10.mul(scale).intoArray(s, s1 - c);|kernel/boundary-lengths"
  # the converting dot products' last block of 2 or 3 rows (rows 1 and 2 are stored; row 0's store is overwritten by row 3's)
  "vector/VectorCpuKernels|dotScoresF16-rest-t1-mul-to-div|1626|t1 += q[q1 + e] * kk;|t1 += q[q1 + e] / kk;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|dotScoresF16-rest-t2-mul-to-div|1627|t2 += q[q2 + e] * kk;|t2 += q[q2 + e] / kk;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|dotScoresI8-rest-scale-step-mul-to-div|1752|float f = scale * scales[scale0 + c * scaleStep];|float f = scale * scales[scale0 + c / scaleStep];|kernel/boundary-reduced-storage"
  # decode of a KV group of 3 over a float16 tiled cache, last tile 3L + 2 keys: transposedScoresF16's third row, one-vector step
  "vector/VectorCpuKernels|transposedScoresF16-q3-boundary|1938|int q3 = m > 3 ? q0 + 3 * qStride : q0;|int q3 = m >= 3 ? q0 + 3 * qStride : q0;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|transposedScoresF16-one-vector-kb-add-to-sub|1973|int kb = ktOff + c;|int kb = ktOff - c;|kernel/boundary-reduced-storage"
  # int8 V rows of 3L + 1 over a [B, L, H, D] view with 2 KV heads: accumulateRowsI8's two-vector step reads every second
  # scale row; its one-vector step runs at e = 2L (it ran only at e = 0 before)
  "vector/VectorCpuKernels|accumulateRowsI8-double-scale-step-mul-to-div|1783|float w = scales[scale0 + c * scaleStep];|float w = scales[scale0 + c / scaleStep];|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-o0-add-to-sub|1809|FloatVector.fromArray(F, o, o0 + e).mul(f0)|FloatVector.fromArray(F, o, o0 - e).mul(f0)|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-vb-add-to-sub|1811|int vb = vOff + e;|int vb = vOff - e;|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-store-o1-add-to-sub|1821|a1.intoArray(o, o1 + e);|a1.intoArray(o, o1 - e);|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-o1-add-to-sub|1809|FloatVector.fromArray(F, o, o1 + e).mul(f1)|FloatVector.fromArray(F, o, o1 - e).mul(f1)|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-o2-add-to-sub|1810|FloatVector.fromArray(F, o, o2 + e).mul(f2)|FloatVector.fromArray(F, o, o2 - e).mul(f2)|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-o3-add-to-sub|1810|FloatVector.fromArray(F, o, o3 + e).mul(f3)|FloatVector.fromArray(F, o, o3 - e).mul(f3)|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-store-o0-add-to-sub|1820|a0.intoArray(o, o0 + e);|a0.intoArray(o, o0 - e);|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-store-o2-add-to-sub|1822|a2.intoArray(o, o2 + e);|a2.intoArray(o, o2 - e);|kernel/boundary-reduced-storage"
  "vector/VectorCpuKernels|accumulateRowsI8-single-store-o3-add-to-sub|1823|a3.intoArray(o, o3 + e);|a3.intoArray(o, o3 - e);|kernel/boundary-reduced-storage"
  "KvSource|readable-stride-rest-negated|345|t.stride(a) % pitch != 0|t.stride(a) % pitch == 0|$READ"
  # the plan's threads: PlanOptions.threads = 1 (kernel/plan-threads), and close() ending them (meta/close-releases-threads)
  "WorkerPool|pool-threads-boundary|37|if (threads > 1) {|if (threads >= 1) {|kernel/plan-threads"
  "WorkerPool|pool-threads-negated|37|if (threads > 1) {|if (threads <= 1) {|kernel/plan-threads"
  "CpuAttentionPlan|plan-close-threads-removed|130|engine.pool().close();|;|meta/close-releases-threads"
  "CpuStandardLayerPlan|layer-close-threads-removed|143|engine.pool().close();|;|meta/close-releases-threads"
  "CpuMlaLayerPlan|mla-close-threads-removed|323|engine.pool().close();|;|meta/close-releases-threads"
)

mutants=()
for m in "${all_mutants[@]}"; do [[ "$m" == *"${ONLY:-}"* ]] && mutants+=("$m"); done
cd "$work"
mvn -B -q ${MVN_FLAGS:-} -pl kernels-cpu test-compile > /dev/null || { echo "the unmutated module does not build"; exit 1; }
run_tck() { # checks, log
  mvn -B ${MVN_FLAGS:-} -pl kernels-cpu test -Dtest=CpuTckTest -Dsurefire.failIfNoSpecifiedTests=false \
      -Dattn4j.tck.iterations="${ITERATIONS:-10}" -Dattn4j.tck.checks="$1" > "$2" 2>&1
}
# the unmutated code must pass every check used below, or a "kill" would mean nothing
all=$(for m in "${mutants[@]}"; do IFS='|' read -r _ _ _ _ _ checks <<< "$m"; echo "$checks"; done | tr ',' '\n' | sort -u | paste -sd,)
run_tck "$all" "$work/baseline.log" || { echo "the unmutated code fails $all: see $work/baseline.log"; exit 1; }
echo "baseline  passes $all"
# sed needs the texts escaped; they hold no newlines
esc() { printf '%s' "$1" | sed -e 's/[]\/$*.^[&]/\\&/g'; }
status=0
for m in "${mutants[@]}"; do
  IFS='|' read -r cls id line before after checks <<< "$m"
  src="$dir/$cls.java"
  git checkout -q -- "$dir"
  # the line now: the one holding the text, the nearest to PIT's line when several do (edits above it move it)
  at=$(grep -nF -- "$before" "$src" | cut -d: -f1 | awk -v p="$line" '{d = $1 - p; if (d < 0) d = -d; if (best == "" || d < bd) {best = $1; bd = d}} END {print best}')
  if [ -z "$at" ]; then
    echo "STALE     $id (no line reads '$before' any more)"; status=1; continue
  fi
  line=$at
  sed -i "${line}s/$(esc "$before")/$(esc "$after")/" "$src"
  sed -n "${line}p" "$src" | grep -qF -- "$after" || { echo "NOT APPLIED $id"; status=1; continue; }
  log="$work/$id.log"
  if run_tck "$checks" "$log"; then
    echo "SURVIVED  $id ($checks)"; status=1
  else
    fails=$(grep -o '\[attn4j-tck\] [^:]*: FAIL' "$log" | head -3 | tr '\n' ' ')   # any backend name: a mutant may change it
    if [ -n "$fails" ]; then echo "KILLED    $id ($checks): $fails"
    else echo "ERROR     $id: the build failed without a failing TCK check, see $log"; status=1; fi
  fi
done
git checkout -q -- "$dir"
exit $status
