#!/usr/bin/env bash
# The device check on a lent GPU machine: install the carried wheels, then run gpu_check.py.
#
#   here, once:   bash bench/gpu_check_wheels.sh          # torchao, SB3, gymnasium into .whl/
#   run tool:     command "bash bench/gpu_check.sh --out $OUT", carry [".whl"], timeout_s 600
#
# The GPU machine has torch, triton, transformers and nvidia-ml-py but no torchao, SB3 or
# gymnasium and no network: they travel as wheels (about 4 MB) and install with --no-index.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS="${GPU_CHECK_WHEELS:-.whl}"
PY="${PYTHON:-python3}"
SITE="${TMPDIR:-/tmp}/gpu-check-site"
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$WHEELS"/*.whl; then
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "warning: the carried wheels did not install; their sections will say so" >&2
    fi
else
    echo "note: no wheels in $WHEELS (bench/gpu_check_wheels.sh): torchao/SB3 sections will fail" >&2
fi
export PYTHONUNBUFFERED=1
exec "$PY" bench/gpu_check.py "$@"
