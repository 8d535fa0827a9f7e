#!/usr/bin/env bash
# The whole test suite: install dependencies, configure, build, run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# HF tokenizers' expected ids for the real GoEmotions texts (tests/test_tokenizer_goemotions.cpp), made with
# the npm `tokenizers` package when ../shared/data and Node.js are here. Without them that test says it skipped.
if [ -d ../shared/data/goemotions ] && command -v node >/dev/null && command -v npm >/dev/null \
   && [ ! -s .devdata/tokenizer/goemotions_bert-base-uncased.jsonl ]; then
  if npm ci --prefix tools/tokenizer_node --no-audit --no-fund --loglevel=error \
     && node tools/tokenizer_fixtures.mjs --goemotions; then :; else
    echo "note: could not make HF expectations for GoEmotions; test_tokenizer_goemotions will skip" >&2
  fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

# The same unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (docs/security.md): a second
# build of the tests only, no examples, benchmarks or CUDA, at -O1 like the first and with Eigen's assertions
# on (no NDEBUG). Any report fails the test (-fno-sanitize-recover). OpenMP stays on: ASan has no false
# positives with libgomp (TSan would). Skipped here: headers_alone and the consumer_* builds, which compile
# rather than run temper code and were done by the first build.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DTEMPER_BUILD_EXAMPLES=OFF -DTEMPER_BUILD_BENCH=OFF -DTEMPER_WITH_CUDA=OFF -DTEMPER_WITH_BLAS=OFF \
  -DTEMPER_INSTALL=OFF
cmake --build build-asan -j"$(nproc)"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^(headers_alone|consumer_.*)$'
