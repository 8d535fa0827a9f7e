#!/usr/bin/env bash
# The benchmark suite: install dependencies, build the benchmark programs (Release, in build/), run them.
#
#   scripts/bench.sh                        # every CPU benchmark, then the GPU ones when built with CUDA
#   scripts/bench.sh --filter 'Gemm|Softmax'  # only benchmarks whose name matches (a regex)
#   scripts/bench.sh --json > results.json  # one JSON document (Google Benchmark's format, both programs)
#   scripts/bench.sh --build-only           # for bench/compare.py
#   scripts/bench.sh -- --benchmark_repetitions=5   # anything after -- goes to the programs
#
# Compare two result files with bench/diff.py old.json new.json (flags changes over 5%).
# Threads: OMP_NUM_THREADS (default: all cores). See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

json=0 build_only=0 filter="" extra=()
while (($#)); do
  case "$1" in
    --json) json=1 ;;
    --build-only) build_only=1 ;;
    --filter) filter="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "scripts/bench.sh: unknown option '$1' (see the comment at the top of this script)" >&2; exit 2 ;;
  esac
  shift
done

# Build output goes to stderr so that --json leaves stdout to the JSON document.
{
  scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTEMPER_BUILD_BENCH=ON
  targets=(temper_bench)
  grep -q '^TEMPER_WITH_CUDA:BOOL=ON' build/CMakeCache.txt && targets+=(temper_bench_cuda)
  cmake --build build -j"$(nproc)" --target "${targets[@]}"
} 1>&2
((build_only)) && exit 0

programs=(build/bench/temper_bench)
[ -x build/bench/temper_bench_cuda ] && programs+=(build/bench/temper_bench_cuda)
args=("${extra[@]}")
[ -n "$filter" ] && args+=("--benchmark_filter=$filter")

if ((json)); then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  outs=()
  for p in "${programs[@]}"; do
    out="$tmp/$(basename "$p").json"
    "$p" "${args[@]}" --benchmark_out="$out" --benchmark_out_format=json 1>&2
    outs+=("$out")
  done
  python3 bench/merge_results.py "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "${outs[@]}"
else
  for p in "${programs[@]}"; do "$p" "${args[@]}"; done
fi
