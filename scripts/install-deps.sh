#!/usr/bin/env bash
# Installs the Debian packages temper needs to build, test and run its examples.
# Safe to re-run; installs only what is missing.
set -euo pipefail
# Set by .devdeps/env.sh (scripts/device-deps.sh): the dependencies come from that folder, not apt.
if [ -n "${TEMPER_SKIP_APT:-}" ]; then exit 0; fi
pkgs=(build-essential cmake libeigen3-dev nlohmann-json3-dev doctest-dev libcli11-dev libbenchmark-dev libopenblas-openmp-dev unicode-data
      libboost-context-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
