#!/usr/bin/env bash
# Download, here, the wheels bench/gpu_check.sh installs on the GPU machine (Python 3.12,
# x86-64, no network there): torchao for the quantization section, SB3 + gymnasium for PPO.
# About 4 MB in .whl/ (git-ignored); name ".whl" in the run tool's carry.
#
# torchao 0.17 is the release for torch 2.11 (the GPU machine's); its C++ extensions are
# built for another CUDA and are skipped with a warning there: the int8 paths are Python.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-.whl}"
mkdir -p "$DEST"
PY="${PYTHON:-python3}"
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d "$DEST" \
    torchao==0.17.0 stable-baselines3==2.9.2 gymnasium==1.4.0 farama-notifications==0.0.6
ls -la "$DEST"
