"""Check the Triton kernels on a CPU through Triton's interpreter, in a child process.

TRITON_INTERPRET must be set before `triton.jit` decorates a kernel, and a
process that has compiled kernels cannot switch, so the checks run in a fresh
Python process with the variable set. The child prints one JSON line per check;
`run_checks` yields them as they arrive so the lab can stream them.

Interpreted kernels execute block by block in numpy: correct, and far too slow
to time. Sizes are capped (INTERPRET_MAX_N) and no timings are reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[4]
INTERPRET_MAX_N = 128
# The child imports this package without executing portal/__init__.py (which
# configures Celery): a stub package object points at the source folder.
_BOOTSTRAP = (
    "import sys, types\n"
    "pkg = types.ModuleType('portal'); pkg.__path__ = [{portal!r}]; sys.modules['portal'] = pkg\n"
    "from portal.labs.kernels.engine.interpret import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def interpreted_size(n: int) -> int:
    return max(8, min(n, INTERPRET_MAX_N))


def run_checks(
    kernels: Sequence[str],
    dtypes: Sequence[str],
    sizes: Sequence[int],
    *,
    head_dim: int = 64,
    causal: bool = False,
    timeout_s: float = 300.0,
) -> Iterator[dict[str, Any]]:
    """Yield one result dict per (kernel, dtype, interpreted size) from a child process."""
    ns = sorted({interpreted_size(n) for n in sizes})
    args = [
        "--kernels", ",".join(kernels),
        "--dtypes", ",".join(dtypes),
        "--sizes", ",".join(map(str, ns)),
        "--head-dim", str(head_dim),
    ]  # fmt: skip
    if causal:
        args.append("--causal")
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONUNBUFFERED": "1"}
    code = _BOOTSTRAP.format(portal=str(REPO_ROOT / "portal"))
    deadline = time.monotonic() + timeout_s
    with subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            for line in proc.stdout:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Triton interpreter checks took over {timeout_s:.0f} s")
                line = line.strip()
                if line.startswith("{"):
                    yield json.loads(line)
        finally:
            if proc.poll() is None:
                proc.kill()
        stderr = proc.stderr.read()
        if proc.wait() != 0:
            raise RuntimeError(f"interpreter child failed ({proc.returncode}): {stderr[-2000:]}")


def main(argv: list[str]) -> int:
    import argparse

    assert os.environ.get("TRITON_INTERPRET") == "1", "run with TRITON_INTERPRET=1"
    import torch

    from .harness import check_kernel
    from .suite import DTYPES, AttentionShape, Problem, triton_fn

    parser = argparse.ArgumentParser()
    parser.add_argument("--kernels", required=True)
    parser.add_argument("--dtypes", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--trials", type=int, default=2)
    opts = parser.parse_args(argv)
    torch.set_num_threads(1)
    attn = AttentionShape(batch=1, heads=2, head_dim=opts.head_dim, causal=opts.causal)
    device = torch.device("cpu")
    for kernel in opts.kernels.split(","):
        for dtype_name in opts.dtypes.split(","):
            for n in map(int, opts.sizes.split(",")):
                problem = Problem(kernel, n, DTYPES[dtype_name], device, attn)
                t0 = time.perf_counter()
                try:
                    result = check_kernel(
                        triton_fn(problem),
                        problem.make_inputs,
                        problem.reference,
                        problem.dtype,
                        device,
                        trials=opts.trials,
                    )
                    row = {
                        "ok": result.ok,
                        "reason": result.reason,
                        "max_abs_err": result.max_abs_err,
                        "err_ratio": result.max_rel_err,
                        "checks": result.checks,
                    }
                except Exception as exc:
                    row = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:400], "checks": 0}
                row.update(
                    kernel=kernel,
                    impl="triton",
                    dtype=dtype_name,
                    n=n,
                    shape=problem.shape_text(),
                    seconds=round(time.perf_counter() - t0, 3),
                )
                print(json.dumps(row), flush=True)
    return 0
