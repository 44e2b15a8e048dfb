"""Quantization targets on CPU with SmolLM2-135M-Instruct (issue 8).

Runs the `llm-quant` lab in process (each variant in its own worker process) and prints
a table against the bf16 baseline measured in the same run: Linear weight memory
(target: int8 <= 0.55x, 4-bit <= 0.35x), perplexity, KL, top-1 agreement, and decode
throughput per batch size (median of --repeats runs) with the crossover.

    .venv/bin/python bench/llm_quant.py [--model smollm2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.labs.llm.lab import QUANT_LAB  # noqa: E402
from portal.labs.llm.report import quant_markdown  # noqa: E402
from portal.labs.registry import register_lab  # noqa: E402
from portal.labs.testing import run_inline  # noqa: E402

# The llm app registers its labs in ready(); this bench runs the lab without Django.
register_lab(QUANT_LAB)

TARGETS = {8: 0.55, 4: 0.35}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--baseline", default="bf16")
    parser.add_argument("--variants", default="fp32,torchao-int8wo,torchao-int8da,bnb-int8,bnb-nf4")
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--prompt-lengths", default="64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    ctx = run_inline(
        "llm-quant",
        {
            "model": args.model,
            "baseline": args.baseline,
            "variants": args.variants.split(","),
            "batch_sizes": [int(b) for b in args.batch_sizes.split(",")],
            "prompt_lengths": [int(n) for n in args.prompt_lengths.split(",")],
            "repeats": args.repeats,
            "new_tokens": 8,
            "eval_tokens": 512,
            "generation_prompts": 2,
        },
    )
    result = ctx.final
    assert result is not None
    print(
        f"model {result['model']} on {result['device']}, baseline {result['baseline']}, "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    print(
        f"{'variant':34} {'Linear MiB':>10} {'x base':>7} {'target':>7} {'ppl':>8} "
        f"{'KL':>7} {'top-1':>6}"
    )
    failures = 0
    for v in result["variants"]:
        if "error" in v:
            print(f"{v['label']:34} FAILED: {v['error']}")
            failures += 1
            continue
        target = TARGETS.get(v["bits"])
        ok = "" if target is None else ("ok" if v["linear_ratio"] <= target else "MISS")
        failures += ok == "MISS"
        print(
            f"{v['label']:34} {v['linear_weight_mib']:10.1f} {v['linear_ratio']:7.3f} "
            f"{(f'<={target}' if target else ''):>7} {v['perplexity']:8.2f} "
            f"{v['kl']:7.4f} {v['top1_agreement']:6.3f} {ok}"
        )
    print(
        f"\n{'variant':34} {'prompt':>6} {'batch':>5} {'TTFT ms':>9} {'TPOT ms':>9} "
        f"{'dec tok/s':>10} {'x base':>7}"
    )
    base = {
        (p["prompt_len"], p["batch"]): p["decode_tokens_per_s"]
        for v in result["variants"]
        if v["variant"] == result["baseline"]
        for p in v["latency"]
    }
    for v in result["variants"]:
        for p in v.get("latency", []):
            ratio = p["decode_tokens_per_s"] / base[(p["prompt_len"], p["batch"])]
            print(
                f"{v['label']:34} {p['prompt_len']:6} {p['batch']:5} {p['ttft_ms']:9.1f} "
                f"{p['tpot_ms']:9.1f} {p['decode_tokens_per_s']:10.1f} {ratio:7.2f}"
            )
    print()
    for c in result["crossovers"]:
        print(f"crossover {c['variant']} (prompt {c['prompt_len']}): {c['verdict']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if args.markdown:
        args.markdown.write_text(quant_markdown(result))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
