"""The two LLM benchmark labs (LlmConfig.ready() registers them with llm-deploy).

- `llm-quant` (week 8): every chosen quantization variant of one model in a fresh
  worker process — memory, quality against the baseline, latency over batch sizes and
  prompt lengths, the throughput crossover, generations side by side.
- `llm-serving` (week 12): vLLM (own virtualenv) and `transformers serve` with and
  without continuous batching, started as child processes and load-tested with the
  same model, dtype, prompts and load.
"""

from __future__ import annotations

import asyncio
import json
import math
import queue
import threading
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field, field_serializer, field_validator, model_validator

from portal.labs.context import RunContext
from portal.labs.llm import report
from portal.labs.llm.checkpoints import (
    BUILTIN_MODELS,
    SMOLLM2,
    check_model,
    resolve_model,
)
from portal.labs.llm.datasets import select_prompts
from portal.labs.llm.loadtest import LoadSpec, RequestResult, Slo, run_load, summarize
from portal.labs.llm.quantization import (
    Variant,
    VariantFailed,
    VariantSpec,
    run_variant_process,
    unavailable_reason,
)
from portal.labs.llm.results import QuantResult, ServingResult
from portal.labs.llm.servers import (
    ServerFailed,
    ServerKind,
    ServerProcess,
    transformers_server,
    vllm_server,
    vllm_unavailable_reason,
)
from portal.labs.registry import DeviceClass, Lab

FloatDtype = Literal["fp32", "bf16", "fp16"]


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats replaced: NaN → None, ±inf → "inf"/"-inf".

    Results, tables and metrics are stored as PostgreSQL jsonb, which (like JSON) has no
    NaN or Infinity; an empty percentile (every request failed, no decode step) is NaN
    and an all-at-once request rate is inf.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _metric(ctx: RunContext, name: str, value: float, step: float | None = None) -> None:
    """A metric point, unless the value is not a number (a chart has no place for it)."""
    if value is not None and math.isfinite(value):
        ctx.metric(name, value, step=step)


def _sorted_unique(values: list[int]) -> list[int]:
    return sorted(set(values))


# --- quantization benchmark ---------------------------------------------------------------------


class QuantParams(BaseModel):
    model: str = Field(
        title=_("Model"),
        default=SMOLLM2,
        description=_(
            "smollm2 (built in), tiny-random (for quick checks), a local directory or a hub id"
        ),
    )
    baseline: FloatDtype = Field(default="bf16", title=_("Baseline"))
    variants: list[Variant] = Field(
        title=_("Variants"),
        default=[Variant.TORCHAO_INT8_WO, Variant.BNB_INT8, Variant.BNB_NF4],
        min_length=1,
    )
    batch_sizes: list[Annotated[int, Field(ge=1, le=256)]] = Field(
        title=_("Batch sizes"), default=[1, 4, 8], min_length=1, max_length=8
    )
    prompt_lengths: list[Annotated[int, Field(ge=4, le=8192)]] = Field(
        title=_("Prompt lengths"), default=[64], min_length=1, max_length=4
    )
    new_tokens: int = Field(title=_("New tokens"), default=8, ge=2, le=256)
    repeats: int = Field(title=_("Repetitions"), default=1, ge=1, le=5)
    eval_tokens: int = Field(title=_("Evaluation tokens"), default=256, ge=16, le=4096)
    generation_prompts: int = Field(title=_("Generation prompts"), default=3, ge=0, le=8)
    generation_tokens: int = Field(title=_("Generation tokens"), default=24, ge=1, le=256)

    _model = field_validator("model")(classmethod(lambda cls, v: check_model(v)))

    @field_validator("batch_sizes")
    @classmethod
    def _batches(cls, v: list[int]) -> list[int]:
        if any(b < 1 or b > 256 for b in v):
            raise ValueError("batch sizes must be between 1 and 256")
        return _sorted_unique(v)

    @field_validator("prompt_lengths")
    @classmethod
    def _lengths(cls, v: list[int]) -> list[int]:
        if any(n < 4 or n > 8192 for n in v):
            raise ValueError("prompt lengths must be between 4 and 8192 tokens")
        return _sorted_unique(v)

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: list[Variant]) -> list[Variant]:
        return list(dict.fromkeys(v))


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _generation_prompts(params: QuantParams) -> list[str]:
    """The short English prompts every variant answers, for the side-by-side generations."""
    if not params.generation_prompts:
        return []
    chosen = select_prompts(count=params.generation_prompts, lang="en", lengths=("short",))
    return [p.prompt for p in chosen]


def _variant_spec(
    params: QuantParams,
    model_dir: str,
    variant: Variant,
    device: str,
    prompts: list[str],
    baseline_logprobs: str,
) -> VariantSpec:
    """What the worker process of one variant measures (the baseline's log-probs, written by
    the baseline's process, are the reference of the others' KL and top-1 agreement)."""
    return VariantSpec(
        model=model_dir,
        variant=variant.value,
        baseline=Variant(params.baseline).value,
        device=device,
        eval_tokens=params.eval_tokens,
        batch_sizes=params.batch_sizes,
        prompt_lengths=params.prompt_lengths,
        new_tokens=params.new_tokens,
        repeats=params.repeats,
        generation_prompts=prompts,
        generation_tokens=params.generation_tokens,
        baseline_logprobs=baseline_logprobs,
        calibration_texts=[p.prompt for p in select_prompts(count=64, lang="en")],
    )


def run_quant(params: QuantParams, ctx: RunContext) -> dict[str, Any]:
    ctx.progress(0.0, "preparing the model")
    ctx.log(f"model: {params.model}")
    model_dir = resolve_model(params.model)
    baseline = Variant(params.baseline)
    order = [baseline] + [v for v in params.variants if v != baseline]
    prompts = _generation_prompts(params)
    logprobs = ctx.workdir / "baseline-logprobs.pt"
    variants: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for index, variant in enumerate(order):
        ctx.check_cancelled()
        ctx.progress(index / len(order), f"{variant.label}")
        reason = unavailable_reason(variant, ctx.device)
        if reason:
            if variant == baseline:
                raise RuntimeError(f"the baseline {variant} cannot run: {reason}")
            ctx.log(f"skipping {variant}: {reason}")
            skipped.append({"variant": variant.value, "reason": reason})
            continue
        spec = _variant_spec(params, model_dir, variant, ctx.device, prompts, str(logprobs))

        def relay(event: dict[str, Any], variant: Variant = variant) -> None:
            _relay_quant_event(ctx, variant, event)

        try:
            result = run_variant_process(
                spec,
                on_event=relay,
                cancelled=ctx.cancelled,
                stderr_path=ctx.workdir / f"{variant.value}.stderr.log",
            )
        except VariantFailed as exc:
            if variant == baseline:
                raise
            ctx.log(f"{variant} failed: {exc}")
            variants.append({"variant": variant.value, "label": variant.label, "error": str(exc)})
            continue
        variants.append(result)
        _add_ratios(variants, baseline.value)
        ctx.table("variants", json_safe(_variant_rows(variants)))
    ctx.progress(1.0, "report")
    result = json_safe(_quant_result(params, model_dir, ctx.device, variants, skipped, prompts))
    ctx.artifact("llm-quant-report.md", report.quant_markdown(result).encode())
    ctx.artifact("llm-quant-report.json", json.dumps(result, indent=2, ensure_ascii=False).encode())
    return result


def _relay_quant_event(ctx: RunContext, variant: Variant, event: dict[str, Any]) -> None:
    if event.get("kind") == "log":
        ctx.log(event["text"])
        return
    data = event.get("data", {})
    stage = event.get("stage")
    if stage == "load":
        ctx.log(
            f"{variant}: loaded in {data['load_s']:.1f} s, Linear weights "
            f"{data['linear_weight_mib']:.1f} MiB"
        )
        _metric(ctx, f"linear_weight_mib/{variant}", data["linear_weight_mib"], step=0)
    elif stage == "quality":
        ctx.log(f"{variant}: perplexity {data['perplexity']:.2f}, KL {data.get('kl', 0):.4f}")
        _metric(ctx, f"perplexity/{variant}", data["perplexity"], step=0)
    elif stage == "latency":
        suffix = f"{variant}/p{data['prompt_len']}"
        _metric(ctx, f"decode_tok_s/{suffix}", data["decode_tokens_per_s"], step=data["batch"])
        _metric(ctx, f"ttft_ms/{suffix}", data["ttft_ms"], step=data["batch"])


def _add_ratios(variants: list[dict[str, Any]], baseline: str) -> None:
    base = next((v for v in variants if v["variant"] == baseline), None)
    if not base:
        return
    for v in variants:
        if "error" not in v:
            v["linear_ratio"] = v["linear_weight_mib"] / base["linear_weight_mib"]
            v["model_ratio"] = v["model_weight_mib"] / base["model_weight_mib"]


def _variant_rows(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for v in variants:
        if "error" in v:
            rows.append({"variant": v["label"], "error": v["error"]})
            continue
        rows.append(
            {
                "variant": v["label"],
                "bits": v["bits"],
                "load_s": round(v["load_s"], 2),
                "linear_mib": round(v["linear_weight_mib"], 2),
                "linear_ratio": round(v.get("linear_ratio", 1.0), 3),
                "peak_mib": round(v["peak_mib"], 1),
                "perplexity": round(v["perplexity"], 3),
                "kl": round(v.get("kl", float("nan")), 5),
                "top1": round(v.get("top1_agreement", float("nan")), 4),
            }
        )
    return rows


def _quant_result(
    params: QuantParams,
    model_dir: str,
    device: str,
    variants: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    prompts: list[str],
) -> dict[str, Any]:
    ok = [v for v in variants if "error" not in v]
    generations = [
        {"prompt": prompt, "answers": {v["label"]: v["generations"][i] for v in ok}}
        for i, prompt in enumerate(prompts)
        if all(len(v.get("generations", [])) > i for v in ok)
    ]
    for v in ok:
        v.pop("generations", None)
    crossovers = report.quant_crossovers(ok, params.baseline)
    return {
        "lab": "llm-quant",
        "model": params.model,
        "model_path": model_dir,
        "device": device,
        **_versions(),
        "baseline": params.baseline,
        "eval_tokens": ok[0].get("eval_tokens") if ok else None,
        "params": params.model_dump(mode="json"),
        "variants": variants,
        "skipped": skipped,
        "crossovers": crossovers,
        "generations": generations,
        "charts": {
            # memory saved vs quality lost: one point per variant
            "memory_vs_quality": [
                {
                    "variant": v["variant"],
                    "memory_saved": 1.0 - v.get("linear_ratio", 1.0),
                    "kl": v.get("kl"),
                    "perplexity": v.get("perplexity"),
                }
                for v in ok
            ],
            # throughput vs batch per variant and prompt length; crossovers marked separately
            "throughput_vs_batch": [
                {
                    "variant": v["variant"],
                    "prompt_len": p["prompt_len"],
                    "batch": p["batch"],
                    "decode_tokens_per_s": p["decode_tokens_per_s"],
                }
                for v in ok
                for p in v.get("latency", [])
            ],
        },
    }


# --- serving load test -----------------------------------------------------------------------


class ServingParams(BaseModel):
    model: str = Field(
        title=_("Model"),
        default=SMOLLM2,
        description=_("smollm2, tiny-random, a directory or hub id"),
    )
    servers: list[ServerKind] = Field(
        title=_("Servers"),
        default=[ServerKind.VLLM, ServerKind.TRANSFORMERS_CB, ServerKind.TRANSFORMERS],
        min_length=1,
        description=_(
            "vllm, transformers-cb (transformers serve --continuous-batching), "
            "transformers (transformers serve, one request at a time)"
        ),
    )
    dtypes: list[FloatDtype] = Field(
        title=_("Element types"),
        default=[],
        max_length=3,
        description=_(
            "every server runs in each; empty = fp32 and bf16 on CPU, bf16 and fp16 on GPU"
        ),
    )
    mode: Literal["concurrency", "rate"] = Field(default="concurrency", title=_("Load mode"))
    levels: list[float] = Field(
        title=_("Load levels"),
        default=[1, 4, 8],
        min_length=1,
        max_length=8,
        description=_(
            "concurrent requests (concurrency mode) or requests/s (rate mode; inf = all at once)"
        ),
    )
    num_requests: int = Field(title=_("Requests per level"), default=16, ge=1, le=2000)
    max_tokens: int = Field(title=_("Output tokens"), default=32, ge=1, le=1024)
    ignore_eos: bool = Field(
        title=_("Ignore EOS"),
        default=False,
        description=_(
            "ask vLLM for exactly max_tokens (transformers serve cannot: it stops at EOS); "
            "off, every server gets the same requests"
        ),
    )
    prompt_lang: Literal["mixed", "en", "zh"] = Field(default="mixed", title=_("Prompt language"))
    prompt_lengths: list[Literal["short", "medium", "long"]] = Field(
        title=_("Prompt lengths"), default=["short", "medium"], min_length=1
    )
    api: Literal["completions", "chat"] = Field(default="chat", title=_("API"))
    slo_ttft_ms: float = Field(
        title=_("SLO: time to first token (ms)"), default=2000, gt=0, le=600_000
    )
    slo_tpot_ms: float = Field(
        title=_("SLO: time per output token (ms)"), default=250, gt=0, le=60_000
    )
    max_model_len: int = Field(title=_("Longest context"), default=1024, ge=128, le=32768)
    ready_timeout_s: int = Field(title=_("Start-up timeout (s)"), default=300, ge=10, le=1800)
    seed: int = Field(title=_("Random seed"), default=0, ge=0, le=2**31 - 1)

    _model = field_validator("model")(classmethod(lambda cls, v: check_model(v)))

    @field_validator("servers", "dtypes")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _levels(self) -> ServingParams:
        for level in self.levels:
            if self.mode == "concurrency" and (
                not math.isfinite(level) or level < 1 or level != int(level) or level > 256
            ):
                raise ValueError("concurrency levels must be whole numbers from 1 to 256")
            if self.mode == "rate" and not level > 0:
                raise ValueError("request rates must be positive (inf = all at once)")
        self.levels = sorted(set(self.levels))
        return self

    @field_serializer("levels")
    def _levels_json(self, levels: list[float]) -> list[float | str]:
        # stored as JSON (jsonb has no Infinity); "inf" validates back to float("inf")
        return [json_safe(level) for level in levels]

    def dtypes_for(self, device: str) -> list[str]:
        """The dtypes to run: as given, else torch's two fast paths for the device."""
        if self.dtypes:
            return list(self.dtypes)
        return ["bf16", "fp16"] if device.startswith("cuda") else ["fp32", "bf16"]


def _start_server(
    kind: ServerKind, dtype: str, params: ServingParams, model_dir: str, ctx: RunContext
) -> ServerProcess:
    log_path = ctx.workdir / f"{kind.value}-{dtype}-server.log"
    if kind == ServerKind.VLLM:
        name = params.model if params.model in BUILTIN_MODELS else model_dir
        return vllm_server(
            model_dir,
            served_name=name,
            log_path=log_path,
            dtype=dtype,
            device=ctx.device,
            max_model_len=params.max_model_len,
        )
    return transformers_server(
        model_dir,
        log_path=log_path,
        dtype=dtype,
        device=ctx.device,
        continuous_batching=kind == ServerKind.TRANSFORMERS_CB,
    )


def _load_level(
    server: ServerProcess,
    prompts: list[str],
    spec: LoadSpec,
    ctx: RunContext,
    series: str,
) -> tuple[list[RequestResult], float]:
    """Run one load level in a thread (its own event loop); stream per-request metrics here.

    The RunContext is only called from this (the run's) thread: the platform's
    implementation may write to the database, which Django forbids inside an event loop.
    """
    finished: queue.Queue[RequestResult] = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(
                run_load(
                    server.base_url,
                    server.served_name,
                    prompts,
                    spec,
                    on_result=finished.put,
                    cancelled=stop.is_set,
                )
            )
        except BaseException as exc:  # re-raised in the run's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="llm-load", daemon=True)
    thread.start()
    while thread.is_alive() or not finished.empty():
        if ctx.cancelled():
            stop.set()
        try:
            r = finished.get(timeout=0.25)
        except queue.Empty:
            continue
        if r.ok:
            ctx.metric(f"ttft_ms/{series}", r.ttft * 1000)
            ctx.metric(f"e2e_ms/{series}", r.e2e * 1000)
    thread.join()
    ctx.check_cancelled()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _Progress:
    """Steps of a serving run: per (dtype, server) one start + warm-up and one per level."""

    def __init__(self, ctx: RunContext, total: int) -> None:
        self.ctx, self.total, self.done = ctx, max(total, 1), 0

    def note(self, message: str) -> None:
        self.ctx.progress(min(self.done / self.total, 0.99), message)


def _serve_and_load(
    kind: ServerKind,
    dtype: str,
    params: ServingParams,
    model_dir: str,
    prompts: list[str],
    ctx: RunContext,
    progress: _Progress,
) -> list[dict[str, Any]]:
    """Start one server, warm it up, run every level, stop it (also when cancelled)."""
    slo = Slo(ttft_ms=params.slo_ttft_ms, tpot_ms=params.slo_tpot_ms)
    name = f"{kind}/{dtype}"
    points: list[dict[str, Any]] = []
    progress.note(f"starting {kind} ({dtype})")
    server = _start_server(kind, dtype, params, model_dir, ctx)
    try:
        server.start()
        ready = server.wait_ready(params.ready_timeout_s, cancelled=ctx.cancelled)
        ctx.log(f"{kind} ({dtype}) ready in {ready:.1f} s at {server.base_url}")
        # One untimed request: first calls pay for lazy initialisation (CB's paged cache).
        warm = LoadSpec(num_requests=1, max_tokens=4, concurrency=1, api=params.api)
        _load_level(server, prompts[:1], warm, ctx, f"{name}/warmup")
        _check_alive(server)
        progress.done += 1
        for level in params.levels:
            progress.note(f"{kind} ({dtype}): {params.mode} {level:g}")
            spec = LoadSpec(
                num_requests=params.num_requests,
                max_tokens=params.max_tokens,
                rate=level if params.mode == "rate" else None,
                concurrency=int(level) if params.mode == "concurrency" else None,
                api=params.api,
                ignore_eos=params.ignore_eos and kind.accepts_ignore_eos,
                seed=params.seed,
            )
            results, duration = _load_level(server, prompts, spec, ctx, f"{name}/{level:g}")
            point = {
                "server": kind.value,
                "dtype": dtype,
                "level": level,
                **summarize(results, duration, slo),
            }
            _check_alive(server)  # a server that died (out of memory) is no measurement
            points.append(point)
            _level_metrics(ctx, name, point, params)
            progress.done += 1
    finally:
        server.stop()
    return points


def _check_alive(server: ServerProcess) -> None:
    if not server.alive():
        code = server.proc.returncode if server.proc else "?"
        raise ServerFailed(f"the server exited with {code} under load: {server.log_tail(1000)}")


def _level_metrics(
    ctx: RunContext, name: str, point: dict[str, Any], params: ServingParams
) -> None:
    level = point["level"]
    # an all-at-once rate (inf) is charted at x = the number of requests
    step = level if math.isfinite(level) else float(params.num_requests)
    _metric(ctx, f"output_tok_s/{name}", point["output_throughput"], step=step)
    _metric(ctx, f"e2e_p50_ms/{name}", point["e2e_ms"]["p50"], step=step)
    _metric(ctx, f"ttft_p50_ms/{name}", point["ttft_ms"]["p50"], step=step)
    ctx.log(
        f"{name} @ {level:g}: {point['output_throughput']:.1f} tok/s, "
        f"{point['request_throughput']:.2f} req/s, TTFT p50 {point['ttft_ms']['p50']:.0f} ms, "
        f"{point['mean_output_tokens']:.1f} tokens/request "
        f"({point['stopped_early']} stopped early), {point['failed']} failed"
    )


def run_serving(params: ServingParams, ctx: RunContext) -> dict[str, Any]:
    """Every server × dtype on the same model, prompts, max tokens and load levels."""
    ctx.progress(0.0, "preparing the model")
    model_dir = resolve_model(params.model)
    prompts = [
        p.prompt
        for p in select_prompts(
            count=params.num_requests,
            lang=params.prompt_lang,
            seed=params.seed,
            lengths=tuple(params.prompt_lengths),
        )
    ]
    dtypes = params.dtypes_for(ctx.device)
    points: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    progress = _Progress(ctx, len(dtypes) * len(params.servers) * (len(params.levels) + 1))
    for dtype in dtypes:
        for kind in params.servers:
            ctx.check_cancelled()
            reason = vllm_unavailable_reason() if kind == ServerKind.VLLM else None
            if reason is None:
                try:
                    points += _serve_and_load(
                        kind, dtype, params, model_dir, prompts, ctx, progress
                    )
                    ctx.table("serving", json_safe(_serving_rows(points)))
                    continue
                except ServerFailed as exc:
                    reason = f"failed: {exc}"[:500]
            ctx.log(f"skipping {kind} ({dtype}): {reason}")
            skipped.append({"server": kind.value, "dtype": dtype, "reason": reason})
            progress.done += len(params.levels) + 1
    if not points:
        raise RuntimeError(
            "no server could be load-tested: " + "; ".join(s["reason"] for s in skipped)
        )
    ctx.progress(1.0, "report")
    result = json_safe(_serving_result(params, ctx, dtypes, points, skipped))
    ctx.artifact("llm-serving-report.md", report.serving_markdown(result).encode())
    ctx.artifact(
        "llm-serving-report.json", json.dumps(result, indent=2, ensure_ascii=False).encode()
    )
    return result


def _serving_result(
    params: ServingParams,
    ctx: RunContext,
    dtypes: list[str],
    points: list[dict[str, Any]],
    skipped: list[dict[str, str]],
) -> dict[str, Any]:
    comparisons = report.serving_comparisons(points)
    return {
        "lab": "llm-serving",
        "model": params.model,
        "device": ctx.device,
        **_versions(),
        "servers": [k.value for k in params.servers],
        "dtypes": dtypes,
        "mode": params.mode,
        "levels": params.levels,
        "num_requests": params.num_requests,
        "max_tokens": params.max_tokens,
        "ignore_eos": params.ignore_eos,
        "api": params.api,
        "prompt_lang": params.prompt_lang,
        "slo": {"ttft_ms": params.slo_ttft_ms, "tpot_ms": params.slo_tpot_ms},
        "params": params.model_dump(mode="json"),
        "points": points,
        # what each ratio measures, in one sentence (the report page and exports show it)
        "ratio_meanings": report.RATIO_MEANINGS,
        "comparisons": comparisons,
        "crossovers": report.serving_crossovers(comparisons, params.mode),
        "dtype_verdicts": report.dtype_verdicts(points),
        "skipped": skipped,
        "charts": {
            # the throughput-latency curve per server and dtype
            "throughput_latency": [
                {
                    "server": p["server"],
                    "dtype": p["dtype"],
                    "level": p["level"],
                    "output_throughput": p["output_throughput"],
                    "e2e_p50_ms": p["e2e_ms"]["p50"],
                    "ttft_p50_ms": p["ttft_ms"]["p50"],
                }
                for p in points
            ]
        },
    }


def _serving_rows(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "server": p["server"],
            "dtype": p["dtype"],
            "level": p["level"],
            "ok": p["completed"],
            "failed": p["failed"],
            "req_s": round(p["request_throughput"], 3),
            "out_tok_s": round(p["output_throughput"], 2),
            "tokens_per_req": round(p["mean_output_tokens"], 1),
            "goodput": round(p["goodput"], 3),
            "ttft_p50_ms": round(p["ttft_ms"]["p50"], 1),
            "ttft_p99_ms": round(p["ttft_ms"]["p99"], 1),
            "tpot_mean_ms": round(p["tpot_ms"]["mean"], 1),
            "e2e_p90_ms": round(p["e2e_ms"]["p90"], 1),
        }
        for p in points
    ]


QUANT_LAB = Lab(
    id="llm-quant",
    title=_("LLM quantization benchmark"),
    description=_(
        "Quantize a causal LM (SmolLM2-135M by default) with bitsandbytes LLM.int8 / NF4 and "
        "torchao int8 (GPTQ/AWQ on GPU) and compare each against the baseline: weight and "
        "peak memory, perplexity, KL and top-1 agreement, TTFT/TPOT over batch sizes with "
        "the throughput crossover, and generations side by side."
    ),
    params=QuantParams,
    result=QuantResult,
    run=run_quant,
    device=DeviceClass.ANY,
    week=8,
    time_limit_s=30 * 60,
    idempotent=True,
    tags=("llm", "quantization", "demo-1"),
    report_url_name="labs:llm:report",
)

SERVING_LAB = Lab(
    id="llm-serving",
    title=_("LLM serving: vLLM vs Transformers under load"),
    description=_(
        "Start vLLM (its own virtualenv) and `transformers serve` with and without "
        "continuous batching on the same model and dtype, load-test each with streamed "
        "requests at fixed concurrency or a Poisson rate, and compare TTFT, TPOT, ITL, "
        "latency percentiles, throughput and goodput: engine against engine, batching "
        "against none, and where batching starts to pay."
    ),
    params=ServingParams,
    result=ServingResult,
    run=run_serving,
    device=DeviceClass.ANY,
    week=12,
    time_limit_s=30 * 60,
    idempotent=True,
    tags=("llm", "serving", "vllm", "demo-1"),
    report_url_name="labs:llm:report",
)
