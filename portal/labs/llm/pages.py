"""What the report pages show, computed from a run's typed result (results.py).

Pure functions: rows for the server-rendered tables (the page reads without
JavaScript) and the chart data static/llm/report.js draws. Non-finite numbers
(an `inf` request rate, a NaN decode rate) become None or a label: JSON has no
Infinity.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext

from portal.labs.llm.results import (
    LatencyPoint,
    QuantResult,
    QuantVariant,
    ServingPoint,
    ServingResult,
)
from portal.labs.registry import LabResult


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


def _latency_at(variant: QuantVariant, prompt_len: int, batch: int) -> LatencyPoint | None:
    for p in variant.latency:
        if p.prompt_len == prompt_len and p.batch == batch:
            return p
    return None


def _variant_row(
    v: QuantVariant, base: QuantVariant | None, prompt_len: int | None, b_min: Any, b_max: Any
) -> dict[str, Any]:
    """One line of the variants table: memory, quality against the baseline, latency at
    the smallest batch and decode throughput at the largest (of the first prompt length)."""
    if not v.ok:
        return {**v.model_dump(), "label": v.name}
    small = _latency_at(v, prompt_len, b_min) if prompt_len is not None else None
    large = _latency_at(v, prompt_len, b_max) if prompt_len is not None else None
    ratio = _num(v.linear_ratio)
    ppl, base_ppl = _num(v.perplexity), _num(base.perplexity) if base else None
    return {
        "variant": v.variant,
        "label": v.label,
        "is_baseline": base is v,
        "bits": v.bits,
        "load_s": _num(v.load_s),
        "linear_mib": _num(v.linear_weight_mib),
        "linear_ratio": ratio,
        "memory_saved_pct": (1 - ratio) * 100 if ratio is not None else None,
        "model_mib": _num(v.model_weight_mib),
        "peak_mib": _num(v.peak_mib),
        "peak_kind": v.peak_kind,
        "perplexity": ppl,
        "ppl_change_pct": (ppl / base_ppl - 1) * 100 if ppl and base_ppl else None,
        "kl": _num(v.kl),
        "top1": _num(v.top1_agreement),
        "ttft_ms": _num(small.ttft_ms) if small else None,
        "tpot_ms": _num(small.tpot_ms) if small else None,
        "tok_s": _num(small.tokens_per_s) if small else None,
        "decode_tok_s_max": _num(large.decode_tokens_per_s) if large else None,
    }


def _memory_quality(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The memory-saved vs KL chart: one point per measured variant."""
    return [
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
        if r.get("error") is None and r["memory_saved_pct"] is not None
    ]


def _throughput_chart(result: QuantResult, prompt_len: int) -> dict[str, Any]:
    """Decode throughput over batch size per variant for one prompt length, with each
    crossover marked on the baseline's line (there the variant is as fast as it)."""
    base = result.baseline_variant
    labels = {v.variant: v.name for v in result.measured}
    series = []
    for v in result.measured:
        points = [
            [p.batch, _num(p.decode_tokens_per_s)]
            for p in sorted(v.latency, key=lambda p: p.batch)
            if p.prompt_len == prompt_len
        ]
        if points:
            series.append({"label": v.label, "baseline": v is base, "points": points})
    base_points = [
        (p.batch, float(rate))
        for p in (base.latency if base else [])
        if p.prompt_len == prompt_len and (rate := _num(p.decode_tokens_per_s)) is not None
    ]
    marks = [
        {
            "label": labels.get(c.variant, c.variant),
            "batch": c.crossover.batch,
            "y": _interp_log2(base_points, c.crossover.batch),
            "between": c.crossover.between,
        }
        for c in result.crossovers
        if c.prompt_len == prompt_len and c.crossover
    ]
    return {"prompt_len": prompt_len, "series": series, "crossovers": marks}


def quant_report(result: QuantResult) -> dict[str, Any]:
    """Tables and charts of an `llm-quant` result."""
    ok = result.measured
    base = result.baseline_variant
    latency = [p for v in ok for p in v.latency]
    batches = sorted({p.batch for p in latency})
    prompt_lens = sorted({p.prompt_len for p in latency})
    first_len = prompt_lens[0] if prompt_lens else None
    b_min, b_max = (batches[0], batches[-1]) if batches else (None, None)

    rows = [_variant_row(v, base, first_len, b_min, b_max) for v in result.variants]
    latency_rows = [
        {
            "label": v.label,
            "prompt_len": p.prompt_len,
            "batch": p.batch,
            "ttft_ms": _num(p.ttft_ms),
            "tpot_ms": _num(p.tpot_ms),
            "tok_s": _num(p.tokens_per_s),
            "decode_tok_s": _num(p.decode_tokens_per_s),
        }
        for v in ok
        for p in v.latency
    ]
    labels = {v.variant: v.name for v in ok}
    crossover_rows = [
        {
            "label": labels.get(c.variant, c.variant),
            "prompt_len": c.prompt_len,
            "batch": c.crossover.batch if c.crossover else None,
            "verdict": c.verdict,
            "ratios": [{"batch": r.batch, "ratio": _num(r.ratio)} for r in c.ratios],
        }
        for c in result.crossovers
    ]
    generation_labels = [v.name for v in ok]
    generations = [
        {"prompt": g.prompt, "answers": [g.answers.get(label, "") for label in generation_labels]}
        for g in result.generations
    ]
    return {
        "rows": rows,
        "latency_rows": latency_rows,
        "crossovers": crossover_rows,
        "skipped": result.skipped,
        "generation_labels": generation_labels if generations else [],
        "generations": generations,
        "at": {"prompt_len": first_len, "batch": b_min, "max_batch": b_max},
        "charts": {
            "kind": "llm-quant",
            "baseline": labels.get(result.baseline, result.baseline),
            "memory_quality": _memory_quality(rows),
            "throughput": [_throughput_chart(result, n) for n in prompt_lens],
        },
    }


# --- serving ------------------------------------------------------------------------------------


def _pct(stats: dict[str, Any] | None, key: str) -> float | None:
    return _num((stats or {}).get(key))


def _series(p: ServingPoint) -> str:
    """One chart series per server and dtype ("vllm · fp32"); older results have no dtype."""
    return f"{p.server} · {p.dtype}" if p.dtype else p.server


def _serving_row(p: ServingPoint) -> dict[str, Any]:
    attainment = _num(p.slo_attainment)
    return {
        "server": p.server,
        "dtype": p.dtype,
        "level": level_label(p.level),
        "completed": p.completed,
        "failed": p.failed,
        "req_s": _num(p.request_throughput),
        "out_tok_s": _num(p.output_throughput),
        "tokens_per_req": _num(p.mean_output_tokens),
        "stopped_early": p.stopped_early,
        "goodput": _num(p.goodput),
        "slo_pct": attainment * 100 if attainment is not None else None,
        **{
            f"{metric}_{q}": _pct(getattr(p, f"{metric}_ms"), q)
            for metric in ("ttft", "tpot", "itl", "e2e")
            for q in ("p50", "p90", "p99")
        },
        "tpot_mean": _pct(p.tpot_ms, "mean"),
        "errors": sorted(set(p.errors or []))[:5],
    }


def _server_series(
    points: list[ServingPoint], series: str, level_labels: list[str]
) -> dict[str, Any]:
    """One server's (and dtype's) chart lines over the load levels (None where it has no point)."""
    mine = {level_label(p.level): p for p in points if _series(p) == series}

    def along(value: Any) -> list[Any]:
        return [value(mine[x]) if x in mine else None for x in level_labels]

    return {
        "server": series,
        "output_tok_s": along(lambda p: _num(p.output_throughput)),
        "req_s": along(lambda p: _num(p.request_throughput)),
        "latency": {
            f"{metric}_{q}": along(lambda p, m=metric, q=q: _pct(getattr(p, f"{m}_ms"), q))
            for metric in ("ttft", "e2e")
            for q in ("p50", "p99")
        },
        # the classic throughput-latency curve: tok/s against median latency
        "curve": [
            {
                "x": _num(mine[x].output_throughput),
                "y": _pct(mine[x].e2e_ms, "p50"),
                "level": x,
            }
            for x in level_labels
            if x in mine
        ],
    }


def serving_report(result: ServingResult) -> dict[str, Any]:
    """Tables and charts of an `llm-serving` result."""
    points = result.points
    series = list(dict.fromkeys(_series(p) for p in points))
    # the x axis: the levels in order, as labels (so an infinite rate has a place)
    levels = sorted({v for p in points if (v := _level_value(p.level)) is not None})
    level_labels = [level_label(x) for x in levels]
    comparisons = [
        {
            "kind": c.kind,
            "server": c.server,
            "baseline": c.baseline,
            "dtype": c.dtype,
            "level": level_label(c.level),
            "ratio": _num(c.ratio),
            "e2e_p50_ratio": _num(c.e2e_p50_ratio),
        }
        for c in result.comparisons
    ]
    meanings = result.ratio_meanings
    return {
        "rows": [_serving_row(p) for p in points],
        "comparisons": comparisons,
        # one sentence per kind of ratio present, in the order they appear
        "ratio_meanings": [
            {"kind": kind, "text": gettext(meanings[kind])}
            for kind in dict.fromkeys(c["kind"] for c in comparisons)
            if kind in meanings
        ],
        "crossovers": result.crossovers,
        "dtype_verdicts": result.dtype_verdicts,
        "skipped": result.skipped,
        "slo": result.slo,
        "mode": result.mode,
        "levels": [level_label(x) for x in result.levels],
        "charts": {
            "kind": "llm-serving",
            "mode": result.mode,
            "levels": level_labels,
            "servers": [_server_series(points, name, level_labels) for name in series],
        },
    }


def report_for(result: LabResult) -> dict[str, Any]:
    if isinstance(result, QuantResult):
        return quant_report(result)
    if isinstance(result, ServingResult):
        return serving_report(result)
    raise TypeError(f"no report for a {type(result).__name__}")
