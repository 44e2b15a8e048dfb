"""Performance reports: the crossover analysis and Markdown renderings of lab results.

The JSON export is the lab's result dict itself; the Markdown is the plan's
性能测试报告, readable on its own (tables, the crossover, the side-by-side answers).
"""

from __future__ import annotations

import math
from typing import Any


def find_crossover(points: list[tuple[int, float]]) -> dict[str, Any] | None:
    """Where a speed ratio (variant / baseline) crosses 1.0 as the batch grows.

    `points` are (batch, ratio) sorted by batch. Returns None when the ratio never
    crosses 1.0 in the measured range; otherwise the bracketing batches, the batch
    interpolated linearly in log2(batch), and which side the variant is faster on.
    """
    points = sorted(points)
    for (b0, r0), (b1, r1) in zip(points, points[1:], strict=False):
        if (r0 - 1.0) * (r1 - 1.0) < 0 or (r0 != 1.0 and r1 == 1.0):
            frac = (1.0 - r0) / (r1 - r0)
            at = 2 ** (math.log2(b0) + frac * (math.log2(b1) - math.log2(b0)))
            return {
                "between": [b0, b1],
                "batch": round(at, 2),
                "faster": "below" if r0 > 1.0 else "above",
            }
    return None


def quant_crossovers(
    variants: list[dict[str, Any]], baseline: str, metric: str = "decode_tokens_per_s"
) -> list[dict[str, Any]]:
    """One entry per (variant, prompt length): the ratios per batch and the crossover."""
    base = next((v for v in variants if v["variant"] == baseline and "latency" in v), None)
    if base is None:
        return []
    base_at = {(p["prompt_len"], p["batch"]): p[metric] for p in base["latency"]}
    out = []
    for v in variants:
        if v["variant"] == baseline or "latency" not in v:
            continue
        by_len: dict[int, list[tuple[int, float]]] = {}
        for p in v["latency"]:
            ref = base_at.get((p["prompt_len"], p["batch"]))
            if ref and ref > 0 and not math.isnan(p[metric]):
                by_len.setdefault(p["prompt_len"], []).append((p["batch"], p[metric] / ref))
        for prompt_len, ratios in sorted(by_len.items()):
            ratios.sort()
            cross = find_crossover(ratios)
            if cross is None:
                verdict = (
                    "always faster" if all(r > 1 for _, r in ratios) else "never faster"
                ) + " than the baseline in the measured range"
            else:
                side = "smaller" if cross["faster"] == "below" else "larger"
                verdict = (
                    f"faster at {side} batches; crosses the baseline near batch {cross['batch']:g} "
                    f"(between {cross['between'][0]} and {cross['between'][1]})"
                )
            out.append(
                {
                    "variant": v["variant"],
                    "prompt_len": prompt_len,
                    "ratios": [{"batch": b, "ratio": r} for b, r in ratios],
                    "crossover": cross,
                    "verdict": verdict,
                }
            )
    return out


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def quant_markdown(result: dict[str, Any]) -> str:
    variants = [v for v in result["variants"] if "error" not in v]
    base = result["baseline"]
    parts = [
        "# Quantization benchmark",
        "",
        f"- Model: `{result['model']}`",
        f"- Device: `{result['device']}`; torch {result.get('torch', '?')}, "
        f"transformers {result.get('transformers', '?')}",
        f"- Baseline: **{base}**; evaluation text: {result.get('eval_tokens', '?')} tokens",
        "",
        "## Memory and quality",
        "",
        _table(
            [
                "variant",
                "bits",
                "load s",
                "Linear MiB",
                "× baseline",
                "model MiB",
                "peak MiB",
                "perplexity",
                "KL",
                "top-1",
            ],
            [
                [
                    v["label"],
                    v["bits"],
                    v["load_s"],
                    v["linear_weight_mib"],
                    v.get("linear_ratio"),
                    v["model_weight_mib"],
                    v["peak_mib"],
                    v.get("perplexity"),
                    _fmt(v.get("kl"), 4),
                    _fmt(v.get("top1_agreement"), 3),
                ]
                for v in variants
            ],
        ),
        "",
        "## Latency and throughput",
        "",
        _table(
            ["variant", "prompt", "batch", "TTFT ms", "TPOT ms", "tok/s", "decode tok/s"],
            [
                [
                    v["label"],
                    p["prompt_len"],
                    p["batch"],
                    p["ttft_ms"],
                    p["tpot_ms"],
                    p["tokens_per_s"],
                    p["decode_tokens_per_s"],
                ]
                for v in variants
                for p in v.get("latency", [])
            ],
        ),
        "",
        "## Crossover (decode throughput against the baseline)",
        "",
    ]
    for c in result.get("crossovers", []):
        ratios = ", ".join(f"b{r['batch']}: {r['ratio']:.2f}×" for r in c["ratios"])
        parts.append(f"- **{c['variant']}**, prompt {c['prompt_len']}: {c['verdict']} ({ratios})")
    if not result.get("crossovers"):
        parts.append("- (no quantized variant with latency figures)")
    for s in result.get("skipped", []):
        parts.append(f"- skipped **{s['variant']}**: {s['reason']}")
    for v in result["variants"]:
        if "error" in v:
            parts.append(f"- failed **{v['variant']}**: {v['error']}")
    gens = result.get("generations") or []
    if gens:
        parts += ["", "## Generations side by side", ""]
        for g in gens:
            parts.append(f"**Prompt:** {g['prompt']}")
            parts.append("")
            for name, text in g["answers"].items():
                parts.append(f"- *{name}*: {text.replace(chr(10), ' ')}")
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def serving_markdown(result: dict[str, Any]) -> str:
    parts = [
        "# Serving load test",
        "",
        f"- Model: `{result['model']}`; device `{result['device']}`",
        f"- Load: {result['mode']} {result['levels']}; {result['num_requests']} requests per "
        f"level, max {result['max_tokens']} output tokens; prompts: {result['prompt_lang']}",
        f"- SLOs: TTFT ≤ {result['slo']['ttft_ms']} ms, TPOT ≤ {result['slo']['tpot_ms']} ms",
        "",
        _table(
            [
                "server",
                "level",
                "ok",
                "failed",
                "req/s",
                "out tok/s",
                "goodput req/s",
                "TTFT mean",
                "TTFT p50",
                "TTFT p99",
                "TPOT mean",
                "ITL p50",
                "E2E p50",
                "E2E p90",
                "E2E p99",
            ],
            [
                [
                    pt["server"],
                    pt["level"],
                    pt["completed"],
                    pt["failed"],
                    pt["request_throughput"],
                    pt["output_throughput"],
                    pt["goodput"],
                    pt["ttft_ms"]["mean"],
                    pt["ttft_ms"]["p50"],
                    pt["ttft_ms"]["p99"],
                    pt["tpot_ms"]["mean"],
                    pt["itl_ms"]["p50"],
                    pt["e2e_ms"]["p50"],
                    pt["e2e_ms"]["p90"],
                    pt["e2e_ms"]["p99"],
                ]
                for pt in result["points"]
            ],
        ),
        "",
    ]
    for comparison in result.get("comparisons", []):
        parts.append(
            f"- At {result['mode']} {comparison['level']}: {comparison['server']} delivers "
            f"**{comparison['ratio']:.2f}×** the output tokens/s of {comparison['baseline']}."
        )
    for s in result.get("skipped", []):
        parts.append(f"- skipped **{s['server']}**: {s['reason']}")
    return "\n".join(parts).rstrip() + "\n"
