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
