#!/usr/bin/env bash
# Packs temper's build dependencies (Eigen, nlohmann/json, doctest, CLI11, Google Benchmark) from Debian's
# packages into one folder, for a machine that has a compiler and CUDA but cannot install packages (the GPU
# machine this project borrows has no network). OpenBLAS is left out: without it temper uses Eigen.
#
#   scripts/device-deps.sh [DIR]      # default .devdeps (git-ignored); about 12 MB
#
# On the other machine, from the repository root:
#   source .devdeps/env.sh && scripts/test-gpu.sh
# env.sh puts DIR/usr on CMAKE_PREFIX_PATH (and the benchmark library on LD_LIBRARY_PATH); CMake then finds
# the packages there on Debian/Ubuntu-like systems (lib/x86_64-linux-gnu).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.devdeps}
pkgs=(libeigen3-dev nlohmann-json3-dev doctest-dev libcli11-dev libbenchmark-dev libbenchmark1debian)

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
chmod 755 "$debs"  # apt-get download runs as _apt where it can
(cd "$debs" && apt-get download -q "${pkgs[@]}")
rm -rf "$out"
mkdir -p "$out"
for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$out"; done
rm -rf "$out/usr/share/doc" "$out/usr/share/man"

root=$(cd "$out" && pwd)
cat >"$out/env.sh" <<EOF
# Made by scripts/device-deps.sh: temper's build dependencies from $(. /etc/os-release && echo "$PRETTY_NAME").
# The folder may move: the paths are taken relative to this file.
_deps=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)/usr
export CMAKE_PREFIX_PATH="\$_deps\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export LD_LIBRARY_PATH="\$_deps/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
unset _deps
export TEMPER_SKIP_APT=1  # scripts/install-deps.sh (called by test.sh, bench.sh) leaves apt alone
# The packages' CMake files declare policy ranges such as 2.8.3...3.22, which CMake 4 accepts; should a newer
# one refuse them, this is its documented escape hatch (older CMake ignores it).
export CMAKE_POLICY_VERSION_MINIMUM=3.5
EOF
echo "packed ${pkgs[*]} into $root ($(du -sh "$out" | cut -f1)); on the target: source $out/env.sh"
