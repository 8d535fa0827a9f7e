#!/usr/bin/env bash
# The GPU suite, for a machine with an NVIDIA GPU and the CUDA toolkit: builds the CUDA tests, runs them
# (a skip counts as a failure here: a GPU must be present), then runs the kernel tests under
# compute-sanitizer memcheck and racecheck.
#   scripts/test-gpu.sh [build-dir]      (default build-gpu; CMAKE_CUDA_ARCHITECTURES from the env or native)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
ARCH=${CMAKE_CUDA_ARCHITECTURES:-native}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTEMPER_WITH_CUDA=ON -DTEMPER_BUILD_CUDA_TESTS=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
      -DTEMPER_BUILD_EXAMPLES=OFF -DTEMPER_BUILD_BENCH=OFF
tests=$(cd "$BUILD" && ctest -N -R '^test_(cuda|kernel)_' | sed -n 's/^ *Test *#[0-9]*: //p')
cmake --build "$BUILD" -j"$(nproc)" --target temper_cuda_tests
# ctest reports skipped tests as passing; without a GPU every one of these would skip, so refuse that.
ctest --test-dir "$BUILD" -R '^test_(cuda|kernel)_' --output-on-failure -V 2>&1 | tee "$BUILD/gpu-tests.log" \
  | grep -E "MESSAGE|rel err|Test +#|tests passed|SKIPPED|Failed" || true
if grep -q "SKIPPED: no CUDA GPU" "$BUILD/gpu-tests.log"; then echo "error: no GPU visible" >&2; exit 1; fi
grep -q "100% tests passed" "$BUILD/gpu-tests.log" || { echo "GPU tests failed (see $BUILD/gpu-tests.log)" >&2; exit 1; }

if command -v compute-sanitizer >/dev/null; then
  for t in $tests; do
    for tool in memcheck racecheck; do
      echo "compute-sanitizer --tool $tool $t"
      compute-sanitizer --tool "$tool" --error-exitcode 1 --print-limit 20 "$BUILD/tests/cuda/temper_cuda_tests" \
        --source-file="*/$t.c*" >"$BUILD/$t.$tool.log" 2>&1 \
        || { tail -40 "$BUILD/$t.$tool.log"; exit 1; }
      tail -1 "$BUILD/$t.$tool.log"
    done
  done
else
  echo "note: compute-sanitizer not found; memcheck/racecheck not run" >&2
fi
echo "GPU suite passed"
