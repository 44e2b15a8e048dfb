"""The typed results of the LLM labs: what `run_quant`, `run_serving` and `run_deploy` return.

Kept apart from the run functions so readers (the report pages, the compare page, Feishu)
and the labs share one definition; pydantic only, so worker subprocesses can import it.
Numbers a lab stores through `json_safe` are a float, None (NaN) or "inf"/"-inf".
"""

from __future__ import annotations

from typing import Any, ClassVar

from portal.labs.registry import LabResult, ResultPart

Number = float | str | None


# --- llm-quant ----------------------------------------------------------------------------------


class LatencyPoint(ResultPart):
    prompt_len: int
    batch: int
    ttft_ms: Number = None
    tpot_ms: Number = None
    tokens_per_s: Number = None
    decode_tokens_per_s: Number = None


class QuantVariant(ResultPart):
    """One quantization variant as measured in its own worker process (or why it failed)."""

    variant: str
    label: str | None = None
    error: str | None = None
    bits: Any = None
    load_s: Number = None
    linear_weight_mib: Number = None
    linear_ratio: Number = None
    model_weight_mib: Number = None
    peak_mib: Number = None
    peak_kind: str = ""
    perplexity: Number = None
    kl: Number = None
    top1_agreement: Number = None
    eval_tokens: int | None = None
    latency: list[LatencyPoint] = []

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        return self.label or self.variant


class CrossoverPoint(ResultPart):
    batch: float
    between: list[Any] = []


class BatchRatio(ResultPart):
    batch: int
    ratio: Number = None


class Crossover(ResultPart):
    """Where a variant's decode throughput catches up with the baseline's, per prompt length."""

    variant: str
    prompt_len: int | None = None
    crossover: CrossoverPoint | None = None
    verdict: str = ""
    ratios: list[BatchRatio] = []


class Generation(ResultPart):
    prompt: str
    answers: dict[str, str] = {}


class QuantResult(LabResult):
    summary_exclude: ClassVar[frozenset[str]] = frozenset({"lab", "params", "charts"})

    lab: str | None = None
    model: str
    model_path: str | None = None
    torch: str | None = None
    transformers: str | None = None
    device: str
    baseline: str
    eval_tokens: int | None = None
    params: dict[str, Any] = {}
    variants: list[QuantVariant] = []
    skipped: list[dict[str, Any]] = []
    crossovers: list[Crossover] = []
    generations: list[Generation] = []
    charts: dict[str, Any] = {}

    @property
    def measured(self) -> list[QuantVariant]:
        return [v for v in self.variants if v.ok]

    @property
    def baseline_variant(self) -> QuantVariant | None:
        return next((v for v in self.measured if v.variant == self.baseline), None)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        for v in self.measured:
            for name in ("linear_weight_mib", "peak_mib", "perplexity", "kl", "top1_agreement"):
                out[f"{v.name}.{name}"] = getattr(v, name)
        return out


# --- llm-serving --------------------------------------------------------------------------------


class ServingPoint(ResultPart):
    """One server (in one dtype) at one load level: the load test's summary."""

    server: str
    level: float | str
    dtype: str = ""  # results before the three-server comparison have none
    mean_output_tokens: Number = None
    stopped_early: int | None = None
    completed: int | None = None
    failed: int | None = None
    request_throughput: Number = None
    output_throughput: Number = None
    goodput: Number = None
    slo_attainment: Number = None
    ttft_ms: dict[str, Number] = {}
    tpot_ms: dict[str, Number] = {}
    itl_ms: dict[str, Number] = {}
    e2e_ms: dict[str, Number] = {}
    errors: list[str] | None = None


class ServingComparison(ResultPart):
    server: str
    baseline: str
    level: float | str
    ratio: Number = None
    kind: str = ""  # engine, batching, overall (see ratio_meanings)
    dtype: str = ""
    e2e_p50_ratio: Number = None


class ServingResult(LabResult):
    summary_exclude: ClassVar[frozenset[str]] = frozenset({"lab", "params", "charts"})

    lab: str | None = None
    model: str
    device: str | None = None
    torch: str | None = None
    transformers: str | None = None
    mode: str = "concurrency"
    num_requests: int | None = None
    max_tokens: int | None = None
    prompt_lang: str | None = None
    levels: list[float | str] = []
    slo: dict[str, Any] = {}
    params: dict[str, Any] = {}
    servers: list[str] = []
    dtypes: list[str] = []
    ignore_eos: bool | None = None
    api: str | None = None
    points: list[ServingPoint] = []
    comparisons: list[ServingComparison] = []
    # kind of ratio -> the sentence saying what it measures (a gettext_noop msgid)
    ratio_meanings: dict[str, str] = {}
    crossovers: list[dict[str, Any]] = []
    dtype_verdicts: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    charts: dict[str, Any] = {}

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        for p in self.points:
            key = f"{p.server}{f' {p.dtype}' if p.dtype else ''}@{p.level}"
            out[f"{key}.output_throughput"] = p.output_throughput
            out[f"{key}.e2e_p50_ms"] = p.e2e_ms.get("p50")
        return out


# --- llm-deploy ---------------------------------------------------------------------------------


class DeployResult(LabResult):
    summary_exclude: ClassVar[frozenset[str]] = frozenset({"lab", "params"})

    lab: str | None = None
    model: str
    server: str
    url: str | None = None
    served_model: str | None = None
    since: str | None = None
    uptime_s: float
    ended: str
    params: dict[str, Any] = {}
