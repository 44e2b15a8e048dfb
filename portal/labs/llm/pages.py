"""What the report pages show, computed from a run's result (the labs' JSON export).

Pure functions: rows for the server-rendered tables (the page reads without
JavaScript) and the chart data static/labs/llm/report.js draws. Non-finite numbers
(an `inf` request rate, a NaN decode rate) become None or a label: JSON has no
Infinity.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _level_value(level: Any) -> float | None:
    """A load level as a number: the labs store an all-at-once rate as "inf" (JSON has no inf)."""
    if isinstance(level, bool):
        return None
    if isinstance(level, int | float):
        return float(level)
    try:
        return float(str(level))
    except ValueError:
        return None


def level_label(level: Any) -> str:
    value = level if isinstance(level, int | float) else None
    if value is None:
        return "∞" if str(level).lower() in {"inf", "infinity", "none"} else str(level)
    if math.isinf(value):
        return "∞"
    return f"{value:g}"


# --- quantization -------------------------------------------------------------------------------


def _interp_log2(points: list[tuple[int, float]], batch: float) -> float | None:
    """y at `batch` on the polyline through `points`, linear in log2(batch)."""
    points = sorted(points)
    for (b0, y0), (b1, y1) in zip(points, points[1:], strict=False):
        if b0 <= batch <= b1:
            if b1 == b0:
                return y0
            frac = (math.log2(batch) - math.log2(b0)) / (math.log2(b1) - math.log2(b0))
            return y0 + frac * (y1 - y0)
    return None


def _latency_at(variant: dict[str, Any], prompt_len: int, batch: int) -> dict[str, Any] | None:
    for p in variant.get("latency", []):
        if p["prompt_len"] == prompt_len and p["batch"] == batch:
            return p
    return None


def quant_report(result: dict[str, Any]) -> dict[str, Any]:
    """Tables and charts of an `llm-quant` result."""
    variants = result.get("variants", [])
    ok = [v for v in variants if "error" not in v]
    base = next((v for v in ok if v["variant"] == result.get("baseline")), None)
    latency = [p for v in ok for p in v.get("latency", [])]
    batches = sorted({p["batch"] for p in latency})
    prompt_lens = sorted({p["prompt_len"] for p in latency})
    first_len = prompt_lens[0] if prompt_lens else None
    b_min, b_max = (batches[0], batches[-1]) if batches else (None, None)

    rows = []
    for v in variants:
        if "error" in v:
            rows.append({"variant": v["variant"], "label": v.get("label", v["variant"]), **v})
            continue
        small = _latency_at(v, first_len, b_min) if first_len is not None else None
        large = _latency_at(v, first_len, b_max) if first_len is not None else None
        ratio = _num(v.get("linear_ratio"))
        ppl, base_ppl = _num(v.get("perplexity")), _num(base.get("perplexity")) if base else None
        rows.append(
            {
                "variant": v["variant"],
                "label": v["label"],
                "is_baseline": base is v,
                "bits": v.get("bits"),
                "load_s": _num(v.get("load_s")),
                "linear_mib": _num(v.get("linear_weight_mib")),
                "linear_ratio": ratio,
                "memory_saved_pct": (1 - ratio) * 100 if ratio is not None else None,
                "model_mib": _num(v.get("model_weight_mib")),
                "peak_mib": _num(v.get("peak_mib")),
                "peak_kind": v.get("peak_kind", ""),
                "perplexity": ppl,
                "ppl_change_pct": (ppl / base_ppl - 1) * 100 if ppl and base_ppl else None,
                "kl": _num(v.get("kl")),
                "top1": _num(v.get("top1_agreement")),
                "ttft_ms": _num(small["ttft_ms"]) if small else None,
                "tpot_ms": _num(small["tpot_ms"]) if small else None,
                "tok_s": _num(small["tokens_per_s"]) if small else None,
                "decode_tok_s_max": _num(large["decode_tokens_per_s"]) if large else None,
            }
        )

    latency_rows = [
        {
            "label": v["label"],
            "prompt_len": p["prompt_len"],
            "batch": p["batch"],
            "ttft_ms": _num(p.get("ttft_ms")),
            "tpot_ms": _num(p.get("tpot_ms")),
            "tok_s": _num(p.get("tokens_per_s")),
            "decode_tok_s": _num(p.get("decode_tokens_per_s")),
        }
        for v in ok
        for p in v.get("latency", [])
    ]

    labels = {v["variant"]: v["label"] for v in ok}
    memory_quality = [
        {
            "label": r["label"],
            "variant": r["variant"],
            "baseline": r["is_baseline"],
            "x": r["memory_saved_pct"],
            "y": r["kl"],
            "perplexity": r["perplexity"],
            "ppl_change_pct": r["ppl_change_pct"],
            "top1": r["top1"],
        }
        for r in rows
        if "error" not in r and r["memory_saved_pct"] is not None
    ]

    crossovers = result.get("crossovers", [])
    throughput = []
    for prompt_len in prompt_lens:
        series = []
        for v in ok:
            points = [
                [p["batch"], _num(p["decode_tokens_per_s"])]
                for p in sorted(v.get("latency", []), key=lambda p: p["batch"])
                if p["prompt_len"] == prompt_len
            ]
            if points:
                series.append({"label": v["label"], "baseline": v is base, "points": points})
        marks = []
        base_points = (
            [
                (p["batch"], float(p["decode_tokens_per_s"]))
                for p in base.get("latency", [])
                if p["prompt_len"] == prompt_len and _num(p["decode_tokens_per_s"]) is not None
            ]
            if base
            else []
        )
        for c in crossovers:
            cross = c.get("crossover")
            if c.get("prompt_len") != prompt_len or not cross:
                continue
            # at the crossover the variant is as fast as the baseline: mark it on that line
            y = _interp_log2(base_points, cross["batch"])
            marks.append(
                {
                    "label": labels.get(c["variant"], c["variant"]),
                    "batch": cross["batch"],
                    "y": y,
                    "between": cross["between"],
                }
            )
        throughput.append({"prompt_len": prompt_len, "series": series, "crossovers": marks})

    crossover_rows = [
        {
            "label": labels.get(c["variant"], c["variant"]),
            "prompt_len": c["prompt_len"],
            "batch": (c.get("crossover") or {}).get("batch"),
            "verdict": c.get("verdict", ""),
            "ratios": [
                {"batch": r["batch"], "ratio": _num(r["ratio"])} for r in c.get("ratios", [])
            ],
        }
        for c in crossovers
    ]

    generation_labels = [v["label"] for v in ok]
    generations = [
        {
            "prompt": g["prompt"],
            "answers": [g.get("answers", {}).get(label, "") for label in generation_labels],
        }
        for g in result.get("generations", [])
    ]
    return {
        "rows": rows,
        "latency_rows": latency_rows,
        "crossovers": crossover_rows,
        "skipped": result.get("skipped", []),
        "generation_labels": generation_labels if generations else [],
        "generations": generations,
        "at": {"prompt_len": first_len, "batch": b_min, "max_batch": b_max},
        "charts": {
            "kind": "llm-quant",
            "baseline": labels.get(result.get("baseline", ""), result.get("baseline")),
            "memory_quality": memory_quality,
            "throughput": throughput,
        },
    }


# --- serving ------------------------------------------------------------------------------------


def _pct(stats: dict[str, Any] | None, key: str) -> float | None:
    return _num((stats or {}).get(key))


def _series(p: dict[str, Any]) -> str:
    """One chart series per server and dtype ("vllm · fp32"); older results have no dtype."""
    return f"{p['server']} · {p['dtype']}" if p.get("dtype") else str(p["server"])


def serving_report(result: dict[str, Any]) -> dict[str, Any]:
    """Tables and charts of an `llm-serving` result."""
    points = result.get("points", [])
    rows = []
    for p in points:
        attainment = _num(p.get("slo_attainment"))
        rows.append(
            {
                "server": p["server"],
                "dtype": p.get("dtype", ""),
                "level": level_label(p["level"]),
                "completed": p.get("completed"),
                "failed": p.get("failed"),
                "req_s": _num(p.get("request_throughput")),
                "out_tok_s": _num(p.get("output_throughput")),
                "tokens_per_req": _num(p.get("mean_output_tokens")),
                "stopped_early": p.get("stopped_early"),
                "goodput": _num(p.get("goodput")),
                "slo_pct": attainment * 100 if attainment is not None else None,
                **{
                    f"{metric}_{q}": _pct(p.get(f"{metric}_ms"), q)
                    for metric in ("ttft", "tpot", "itl", "e2e")
                    for q in ("p50", "p90", "p99")
                },
                "tpot_mean": _pct(p.get("tpot_ms"), "mean"),
                "errors": sorted(set(p.get("errors") or []))[:5],
            }
        )
    series = list(dict.fromkeys(_series(p) for p in points))
    # the x axis: the levels in order, as labels (so an infinite rate has a place)
    levels = sorted({v for p in points if (v := _level_value(p["level"])) is not None})
    level_labels = [level_label(x) for x in levels]
    by_server = []
    for name in series:
        mine = {level_label(p["level"]): p for p in points if _series(p) == name}
        by_server.append(
            {
                "server": name,
                "output_tok_s": [
                    _num(mine[x]["output_throughput"]) if x in mine else None for x in level_labels
                ],
                "req_s": [
                    _num(mine[x]["request_throughput"]) if x in mine else None for x in level_labels
                ],
                "latency": {
                    f"{metric}_{q}": [
                        _pct(mine[x].get(f"{metric}_ms"), q) if x in mine else None
                        for x in level_labels
                    ]
                    for metric in ("ttft", "e2e")
                    for q in ("p50", "p99")
                },
                # the classic throughput-latency curve: tok/s against median latency
                "curve": [
                    {
                        "x": _num(mine[x]["output_throughput"]),
                        "y": _pct(mine[x].get("e2e_ms"), "p50"),
                        "level": x,
                    }
                    for x in level_labels
                    if x in mine
                ],
            }
        )
    comparisons = [
        {
            "kind": c.get("kind", ""),
            "server": c["server"],
            "baseline": c["baseline"],
            "dtype": c.get("dtype", ""),
            "level": level_label(c["level"]),
            "ratio": _num(c["ratio"]),
            "e2e_p50_ratio": _num(c.get("e2e_p50_ratio")),
        }
        for c in result.get("comparisons", [])
    ]
    meanings = result.get("ratio_meanings") or {}
    return {
        "rows": rows,
        "comparisons": comparisons,
        # one sentence per kind of ratio present, in the order they appear
        "ratio_meanings": [
            {"kind": kind, "text": gettext(meanings[kind])}
            for kind in dict.fromkeys(c["kind"] for c in comparisons)
            if kind in meanings
        ],
        "crossovers": result.get("crossovers", []),
        "dtype_verdicts": result.get("dtype_verdicts", []),
        "skipped": result.get("skipped", []),
        "slo": result.get("slo", {}),
        "mode": result.get("mode", "concurrency"),
        "levels": [level_label(x) for x in result.get("levels", [])],
        "charts": {
            "kind": "llm-serving",
            "mode": result.get("mode", "concurrency"),
            "levels": level_labels,
            "servers": by_server,
        },
    }


def report_for(lab_id: str, result: dict[str, Any]) -> dict[str, Any]:
    if lab_id == "llm-quant":
        return quant_report(result)
    if lab_id == "llm-serving":
        return serving_report(result)
    raise KeyError(lab_id)
