"""Performance reports: the crossover analysis and Markdown renderings of lab results.

The JSON export is the lab's result dict itself; the Markdown is the plan's
性能测试报告, readable on its own (tables, the crossover, the side-by-side answers).
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_noop


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


# --- serving ------------------------------------------------------------------------------------

# (numerator, denominator, kind): the three ratios between the serving lab's servers
RATIO_PAIRS = (
    ("vllm", "transformers-cb", "engine"),
    ("transformers-cb", "transformers", "batching"),
    ("vllm", "transformers", "overall"),
)
# English in the result and the exports; the report page translates them (same msgids)
RATIO_MEANINGS = {
    "engine": gettext_noop(
        "vLLM ÷ transformers-cb is engine against engine: both batch requests continuously, "
        "so it measures vLLM's scheduler, paged KV cache and kernels against Transformers' own."
    ),
    "batching": gettext_noop(
        "transformers-cb ÷ transformers is batching against none: the same Transformers "
        "model and server with and without continuous batching, so it measures what "
        "batching alone buys at that load."
    ),
    "overall": gettext_noop(
        "vLLM ÷ transformers is vLLM against a naive deployment that answers one request "
        "at a time: engine and batching together."
    ),
}


def serving_comparisons(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output tokens/s ratios between the servers, per dtype and level, for each pair measured."""
    by_key = {(p["server"], p["dtype"], p["level"]): p for p in points}
    out = []
    for num, den, kind in RATIO_PAIRS:
        for (server, dtype, level), p in by_key.items():
            ref = by_key.get((den, dtype, level))
            if server != num or ref is None or not ref["output_throughput"] > 0:
                continue
            out.append(
                {
                    "kind": kind,
                    "server": num,
                    "baseline": den,
                    "dtype": dtype,
                    "level": level,
                    "ratio": p["output_throughput"] / ref["output_throughput"],
                    # a latency view of the same pair: < 1 means the numerator answers sooner
                    "e2e_p50_ratio": _ratio(p["e2e_ms"]["p50"], ref["e2e_ms"]["p50"]),
                }
            )
    return out


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return None
    return a / b


def serving_crossovers(comparisons: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """Per pair and dtype: where its throughput ratio crosses 1.0 as the load grows.

    For `batching` this is where continuous batching starts to pay. Infinite rates
    are left out of the interpolation (they have no place on a log axis).
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in comparisons:
        groups.setdefault((c["kind"], c["dtype"]), []).append(c)
    unit = "concurrency" if mode == "concurrency" else "req/s"
    out = []
    for (kind, dtype), group in groups.items():
        ratios = sorted(
            (float(c["level"]), float(c["ratio"]))
            for c in group
            if isinstance(c["level"], int | float) and math.isfinite(c["level"])
        )
        if not ratios:
            continue
        first = group[0]
        cross = find_crossover(ratios) if len(ratios) > 1 else None
        if cross is not None:
            lo, hi = cross["between"]
            outcome = "overtakes" if cross["faster"] == "above" else "falls-behind"
            verdict = (
                f"{first['server']} overtakes {first['baseline']} at {unit} ~{cross['batch']:g} "
                f"(between {lo:g} and {hi:g})"
                if outcome == "overtakes"
                else f"{first['server']} is faster only below {unit} ~{cross['batch']:g} "
                f"(between {lo:g} and {hi:g})"
            )
        elif all(r > 1 for _, r in ratios):
            outcome = "always"
            verdict = f"{first['server']} is faster at every level measured"
        else:
            outcome = "never"
            verdict = f"{first['server']} is not faster at any level measured"
        out.append(
            {
                "kind": kind,
                "server": first["server"],
                "baseline": first["baseline"],
                "dtype": dtype,
                "ratios": [{"level": lv, "ratio": r} for lv, r in ratios],
                "crossover": cross,
                # overtakes / falls-behind (a crossover), always / never (none in range)
                "outcome": outcome,
                "unit": unit,
                "verdict": verdict,
            }
        )
    return out


def dtype_verdicts(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per server: the faster dtype (output tokens/s) at each level, and overall."""
    out = []
    servers = list(dict.fromkeys(p["server"] for p in points))
    for server in servers:
        mine = [p for p in points if p["server"] == server]
        dtypes = list(dict.fromkeys(p["dtype"] for p in mine))
        if len(dtypes) < 2:
            continue
        levels = []
        for level in list(dict.fromkeys(p["level"] for p in mine)):
            tps = {p["dtype"]: p["output_throughput"] for p in mine if p["level"] == level}
            if len(tps) < 2:
                continue
            ranked = sorted(tps, key=lambda d: -tps[d])
            levels.append(
                {
                    "level": level,
                    "tok_s": tps,
                    "faster": ranked[0],
                    "ratio": _ratio(tps[ranked[0]], tps[ranked[-1]]),
                }
            )
        if not levels:
            continue
        wins = {d: sum(1 for lv in levels if lv["faster"] == d) for d in dtypes}
        best = max(wins, key=lambda d: wins[d])
        verdict = (
            f"{server} is faster in {best} at every level measured"
            if wins[best] == len(levels)
            else f"{server}: "
            + ", ".join(f"{d} faster at {wins[d]} of {len(levels)} levels" for d in dtypes)
        )
        out.append(
            {
                "server": server,
                "levels": levels,
                "faster": best,
                "wins": wins[best],
                "verdict": verdict,
            }
        )
    return out


def serving_markdown(result: dict[str, Any]) -> str:
    parts = [
        "# Serving load test",
        "",
        f"- Model: `{result['model']}`; device `{result['device']}`; "
        f"dtypes {', '.join(result.get('dtypes') or [])}",
        f"- Load: {result['mode']} {result['levels']}; {result['num_requests']} requests per "
        f"level, max {result['max_tokens']} output tokens ({result.get('api', 'completions')} "
        f"API); prompts: {result['prompt_lang']}",
        "- Output tokens are the ones each server produced: `transformers serve` stops at "
        "the end-of-sequence token"
        + (
            " while vLLM was asked for exactly max_tokens (`ignore_eos`)"
            if result.get("ignore_eos")
            else ""
        )
        + "; see tokens/req and stopped early.",
        f"- SLOs: TTFT ≤ {result['slo']['ttft_ms']} ms, TPOT ≤ {result['slo']['tpot_ms']} ms",
        "",
        _table(
            [
                "server",
                "dtype",
                "level",
                "ok",
                "failed",
                "req/s",
                "out tok/s",
                "tokens/req",
                "stopped early",
                "goodput req/s",
                "TTFT p50",
                "TTFT p90",
                "TTFT p99",
                "TPOT p50",
                "TPOT p99",
                "ITL p50",
                "ITL p99",
                "E2E p50",
                "E2E p99",
            ],
            [
                [
                    pt["server"],
                    pt.get("dtype", ""),
                    pt["level"],
                    pt["completed"],
                    pt["failed"],
                    pt["request_throughput"],
                    pt["output_throughput"],
                    pt.get("mean_output_tokens"),
                    pt.get("stopped_early"),
                    pt["goodput"],
                    pt["ttft_ms"]["p50"],
                    pt["ttft_ms"]["p90"],
                    pt["ttft_ms"]["p99"],
                    pt["tpot_ms"]["p50"],
                    pt["tpot_ms"]["p99"],
                    pt["itl_ms"]["p50"],
                    pt["itl_ms"]["p99"],
                    pt["e2e_ms"]["p50"],
                    pt["e2e_ms"]["p99"],
                ]
                for pt in result["points"]
            ],
        ),
        "",
        "Latencies in milliseconds.",
    ]
    comparisons = result.get("comparisons", [])
    if comparisons:
        parts += ["", "## Ratios (output tokens/s)", ""]
        meanings = result.get("ratio_meanings") or RATIO_MEANINGS
        for kind in dict.fromkeys(c["kind"] for c in comparisons):
            parts.append(f"- {meanings.get(kind, kind)}")
        parts.append("")
        parts.append(
            _table(
                ["ratio", "dtype", "level", "× tok/s", "× E2E p50"],
                [
                    [
                        f"{c['server']} ÷ {c['baseline']}",
                        c["dtype"],
                        c["level"],
                        c["ratio"],
                        c.get("e2e_p50_ratio"),
                    ]
                    for c in comparisons
                ],
            )
        )
    crossovers = result.get("crossovers", [])
    if crossovers:
        parts += ["", "## Crossovers", ""]
        for c in crossovers:
            mark = " — **where batching starts to pay**" if c["kind"] == "batching" else ""
            parts.append(f"- {c['dtype']}: {c['verdict']}{mark}")
    verdicts = result.get("dtype_verdicts", [])
    if verdicts:
        parts += ["", "## Which dtype each server is faster in", ""]
        for v in verdicts:
            detail = ", ".join(
                f"{lv['level']}: {lv['faster']} ({_fmt(lv['ratio'])}×)" for lv in v["levels"]
            )
            parts.append(f"- {v['verdict']} ({detail})")
    for s in result.get("skipped", []):
        dtype = f" ({s['dtype']})" if s.get("dtype") else ""
        parts.append(f"- skipped **{s['server']}**{dtype}: {s['reason']}")
    return "\n".join(parts).rstrip() + "\n"
