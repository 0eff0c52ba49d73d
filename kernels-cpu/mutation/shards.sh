#!/usr/bin/env bash
# PIT on kernels-cpu, one class (with its nested classes) per run, each into its own report directory,
# then one summary over all of them (mutation/summary.py). A whole-module run takes hours on 2 cores and PIT
# writes nothing until it finishes; per-class runs keep what finished. Run it with the machine to itself:
# PIT's timeouts are wall-clock, and a busy machine turns slow survivors into "timed out" (= killed).
#
#   kernels-cpu/mutation/shards.sh [Class ...]      # default: every main class, the engine first, the vector kernels (the most mutants) last
#   kernels-cpu/mutation/shards.sh vector.VectorCpuKernels/softmax    # one method group of a class (see METHOD_GROUPS below)
#
# VectorCpuKernels has ~2,200 mutants (~5 h on 2 cores), more than one sitting: it is measured in method groups, each
# a PIT run of its own that mutates only the group's methods (PIT's excludedMethods names all the others), so every
# group that finishes is a complete measurement of its methods. `shards.sh --groups` checks that the groups cover
# every method of the compiled class exactly once.
#
# Environment: ITERATIONS (random cases per TCK check, default 10), TIMEOUT_CONSTANT (ms, default 8000),
# THREADS (PIT threads, default 2), MVN_FLAGS (extra Maven arguments, e.g. -o or -Dmaven.repo.local=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
# a stopped shard can leave PIT's minion behind; one running a WorkerPool mutant that leaks threads once held 32k
# threads and broke every later Maven run ("unable to create native thread"). Take the minions down with the script.
trap 'pkill -f org.pitest.coverage.execute.CoverageMinion || true; pkill -f org.pitest.mutationtest.execute.MutationTestMinion || true' EXIT

# method groups of a class: "Class/group" -> its methods (names as javap prints them; lambdas count with their method)
declare -A METHOD_GROUPS=(
  [vector.VectorCpuKernels/accumulate]="<init> vectorBits name lanes xorShuffle lambda\$xorShuffle\$0 bitMask accumulate1 accumulate2 accumulate4 accumulateRows factor axpy scaleInto"
  [vector.VectorCpuKernels/dot]="sum dot dotScores dot4 dot4I8"
  [vector.VectorCpuKernels/dot-half]="dot4Bf16 dot4F16"
  [vector.VectorCpuKernels/transposed]="transposedScores transposed4 transposed4Narrow transposed2 transposed1"
  [vector.VectorCpuKernels/softmax]="softmax4 onlineSoftmax raiseMax max maxTail expShiftSum expScalar exp tanh softcap addStrided"
  [vector.VectorCpuKernels/reduced-rows]="accumulateRowsBf16 accumulateRowsF16 accumulateRowsI8 accumulateRowsHalf accumulateRowsInt8 bf16 f16 int8"
  [vector.VectorCpuKernels/reduced-scores]="dotScoresBf16 dotScoresF16 dotScoresI8 dotScoresHalf dotScoresInt8 transposedScoresHalf transposedScoresBf16 transposedScoresF16"
)

# every method of a compiled main class, one per line
methods_of() {
  local cls="org.attn4j.kernels.cpu.$1"
  javap -p -cp kernels-cpu/target/classes "$cls" | grep '(' | sed -E 's/^([^(]* )?([A-Za-z0-9_$<>.]+)\(.*/\2/; s/.*\.//' \
    | sed "s/^${cls##*.}\$/<init>/" | sort -u
}

check_groups() {
  local cls=$1 status=0
  local named; named=$(for k in "${!METHOD_GROUPS[@]}"; do [[ $k == "$cls/"* ]] && tr ' ' '\n' <<< "${METHOD_GROUPS[$k]}"; done | sort)
  local dup; dup=$(uniq -d <<< "$named")
  [ -n "$dup" ] && { echo "methods in two groups of $cls: $dup"; status=1; }
  local missing; missing=$(comm -23 <(methods_of "$cls") <(sort -u <<< "$named"))
  [ -n "$missing" ] && { echo "methods of $cls in no group (never mutated): $missing"; status=1; }
  local stale; stale=$(comm -13 <(methods_of "$cls") <(sort -u <<< "$named"))
  [ -n "$stale" ] && { echo "group methods not in $cls: $stale"; status=1; }
  return $status
}

if [ "${1:-}" = "--groups" ]; then
  check_groups vector.VectorCpuKernels && echo "the groups cover every method of vector.VectorCpuKernels once"
  exit
fi

classes=("$@")
if [ ${#classes[@]} -eq 0 ]; then
  classes=(FlashEngine KvSource AttentionCall CpuAttentionPlan ScalarCpuKernels CpuMlaLayerPlan CpuStandardLayerPlan
           CpuBackend WorkerPool CpuKernelSupport CpuKernels Linear CpuTuning vector.VectorConstants)
  for g in accumulate dot dot-half transposed softmax reduced-rows reduced-scores; do classes+=("vector.VectorCpuKernels/$g"); done
fi
out=kernels-cpu/target/pit-shards
mkdir -p "$out"
# one build of the module and what it depends on, then each shard runs against the installed jars
mvn -B -q ${MVN_FLAGS:-} -pl kernels-cpu -am install -DskipTests
check_groups vector.VectorCpuKernels
for c in "${classes[@]}"; do
  cls=${c%%/*}
  report=${c//\//-}
  excluded=()
  if [[ $c == */* ]]; then
    [ -n "${METHOD_GROUPS[$c]:-}" ] || { echo "no method group $c"; exit 2; }
    # mutate only the group: exclude every other method of the class
    excluded=("-DexcludedMethods=$(comm -23 <(methods_of "$cls") <(tr ' ' '\n' <<< "${METHOD_GROUPS[$c]}" | sort -u) | paste -sd, -)")
  fi
  start=$(date +%s)
  echo "== $c  $(date -u +%H:%M:%S)"
  mvn -B -q ${MVN_FLAGS:-} -Pmutation -pl kernels-cpu verify -DskipTests -Dattn4j.mutation.skipUnit=true -Dattn4j.mutation.threads="${THREADS:-2}" \
      -Dattn4j.mutation.iterations="${ITERATIONS:-10}" -Dattn4j.mutation.timeoutConstant="${TIMEOUT_CONSTANT:-8000}" \
      "-Dattn4j.mutation.targetClasses=org.attn4j.kernels.cpu.${cls}*" "${excluded[@]}" \
      "-Dattn4j.mutation.reports=\${project.build.directory}/pit-shards/${report}" > "$out/${report}.log" 2>&1 \
    || echo "   (PIT exited non-zero; see $out/${report}.log)"
  echo "   $(( $(date +%s) - start )) s"
  python3 kernels-cpu/mutation/summary.py "$out" | tail -1
done
python3 kernels-cpu/mutation/summary.py "$out"
