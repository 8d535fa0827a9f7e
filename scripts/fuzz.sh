#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs them, one process on one core.
#   scripts/fuzz.sh TARGET SECONDS    e.g. scripts/fuzz.sh safetensors 600
#   scripts/fuzz.sh all SECONDS       every target in turn, SECONDS each
# Targets: safetensors checkpoint config vocab tokenizer_json tokenizer dataset (fuzz/fuzz_TARGET.cpp).
# Each run starts from the committed seeds (fuzz/corpus/TARGET) plus what earlier runs found
# (build-fuzz/corpus/TARGET). A crash, leak, UB report, timeout (> 10 s for one input) or out-of-memory
# (> 2 GB) stops the run and leaves the input in build-fuzz/findings/TARGET/; logs in build-fuzz/logs/.
# Reproduce a finding with: build-fuzz/fuzz/fuzz_TARGET build-fuzz/findings/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
all=(safetensors checkpoint config vocab tokenizer_json tokenizer dataset)
if [ $# -ne 2 ]; then echo "usage: $0 TARGET|all SECONDS  (targets: ${all[*]})" >&2; exit 2; fi
if [ "$1" = all ]; then targets=("${all[@]}"); else targets=("$1"); fi
seconds=$2
command -v clang++ >/dev/null || { echo "fuzzing needs clang++ (apt-get install clang)" >&2; exit 1; }

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTEMPER_BUILD_FUZZERS=ON \
  -DTEMPER_BUILD_TESTS=OFF -DTEMPER_BUILD_EXAMPLES=OFF -DTEMPER_BUILD_BENCH=OFF -DTEMPER_WITH_CUDA=OFF \
  -DTEMPER_INSTALL=OFF >/dev/null
cmake --build build-fuzz -j"${JOBS:-1}" --target "${targets[@]/#/fuzz_}"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/findings/$t" build-fuzz/logs
  log="build-fuzz/logs/$t.log"
  echo "== fuzz_$t for ${seconds}s (log: $log)"
  if ! build-fuzz/fuzz/fuzz_"$t" "build-fuzz/corpus/$t" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t/" >"$log" 2>&1; then
    failed+=("$t")
    grep -m1 -E "ERROR|runtime error|property failed|deadly signal" "$log" || tail -5 "$log"
  fi
  # libFuzzer's closing lines: the last status line (coverage, corpus) and the executions.
  grep -E "^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units" "$log" || tail -2 "$log"
done
if [ ${#failed[@]} -gt 0 ]; then echo "findings in: ${failed[*]} (see build-fuzz/findings/)" >&2; exit 1; fi
echo "no findings"
