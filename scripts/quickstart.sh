#!/usr/bin/env bash
# The main job: install dependencies, build, and run the emotion fine-tuning demo on its embedded default
# (a generated 5-emotion multi-label dataset, a trained WordPiece vocabulary, a small DistilBERT from
# random init). Extra arguments go to the quickstart program (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target quickstart
exec ./build/examples/quickstart "$@"
