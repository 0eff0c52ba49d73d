#!/usr/bin/env bash
# PIT on kernels-cpu, one class (with its nested classes) per run, each into its own report directory,
# then one summary over all of them (mutation/summary.py). A whole-module run takes hours on 2 cores and PIT
# writes nothing until it finishes; per-class runs keep what finished. Run it with the machine to itself:
# PIT's timeouts are wall-clock, and a busy machine turns slow survivors into "timed out" (= killed).
#
#   kernels-cpu/mutation/shards.sh [Class ...]      # default: every main class, the engine first, the vector kernels (the most mutants) last
#
# Environment: ITERATIONS (random cases per TCK check, default 10), TIMEOUT_CONSTANT (ms, default 8000),
# THREADS (PIT threads, default 2), MVN_FLAGS (extra Maven arguments, e.g. -o or -Dmaven.repo.local=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
classes=("$@")
if [ ${#classes[@]} -eq 0 ]; then
  classes=(FlashEngine KvSource AttentionCall CpuAttentionPlan ScalarCpuKernels CpuMlaLayerPlan CpuStandardLayerPlan
           CpuBackend WorkerPool CpuKernelSupport CpuKernels Linear CpuTuning vector.VectorConstants vector.VectorCpuKernels)
fi
out=kernels-cpu/target/pit-shards
mkdir -p "$out"
# one build of the module and what it depends on, then each shard runs against the installed jars
mvn -B -q ${MVN_FLAGS:-} -pl kernels-cpu -am install -DskipTests
for c in "${classes[@]}"; do
  start=$(date +%s)
  echo "== $c  $(date -u +%H:%M:%S)"
  mvn -B -q ${MVN_FLAGS:-} -Pmutation -pl kernels-cpu verify -DskipTests -Dattn4j.mutation.skipUnit=true -Dattn4j.mutation.threads="${THREADS:-2}" \
      -Dattn4j.mutation.iterations="${ITERATIONS:-10}" -Dattn4j.mutation.timeoutConstant="${TIMEOUT_CONSTANT:-8000}" \
      "-Dattn4j.mutation.targetClasses=org.attn4j.kernels.cpu.${c}*" \
      "-Dattn4j.mutation.reports=\${project.build.directory}/pit-shards/${c}" > "$out/${c}.log" 2>&1 \
    || echo "   (PIT exited non-zero; see $out/${c}.log)"
  echo "   $(( $(date +%s) - start )) s"
  python3 kernels-cpu/mutation/summary.py "$out" | tail -1
done
python3 kernels-cpu/mutation/summary.py "$out"
