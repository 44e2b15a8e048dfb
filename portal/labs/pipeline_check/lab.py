"""The pipeline check lab: a steady stream of events to test workers, storage and streaming.

Operators use it to check a worker end to end; the bench (bench/labs_streaming.py)
and the platform's tests use it for throughput, cancel and time limits.
"""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field

from portal.labs.context import RunContext
from portal.labs.registry import DeviceClass, Lab, LabResult


class PipelineCheckParams(BaseModel):
    events_per_second: int = Field(
        title=_("Events per second"),
        default=50,
        ge=1,
        le=20_000,
        description=_("Metric events emitted per second."),
    )
    duration_s: float = Field(
        title=_("Duration (s)"),
        default=5.0,
        gt=0,
        le=600,
        description=_("How long to emit events (seconds)."),
    )
    log_every: int = Field(
        title=_("Log every N events"),
        default=50,
        ge=0,
        le=100_000,
        description=_("Also log a line every N events (0: never)."),
    )
    poll_cancel: bool = Field(
        title=_("Poll for cancel"),
        default=True,
        description=_(
            "Poll cancelled() between events (off: rely on the platform to stop the lab)."
        ),
    )
    fail_at_s: float | None = Field(
        title=_("Fail after (s)"),
        default=None,
        ge=0,
        le=600,
        description=_("Raise an error after this many seconds (tests failure handling)."),
    )


class PipelineCheckResult(LabResult):
    events: int
    elapsed_s: float
    rate: float


def run(params: PipelineCheckParams, ctx: RunContext) -> dict[str, Any]:
    total = max(1, int(params.events_per_second * params.duration_s))
    interval = 1.0 / params.events_per_second
    start = time.perf_counter()
    ctx.log(f"emitting {total} events at {params.events_per_second}/s")
    for i in range(total):
        if params.poll_cancel:
            ctx.check_cancelled()
        if params.fail_at_s is not None and time.perf_counter() - start >= params.fail_at_s:
            raise RuntimeError(f"failing on purpose after {params.fail_at_s} s")
        ctx.metric("value", float(i % 100), step=i)
        if params.log_every and i % params.log_every == 0:
            ctx.log(f"event {i}")
            ctx.progress(i / total, f"{i}/{total}")
        ahead = start + (i + 1) * interval - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.perf_counter() - start
    ctx.progress(1.0, "done")
    return {"events": total, "elapsed_s": round(elapsed, 3), "rate": round(total / elapsed, 1)}


LAB = Lab(
    id="pipeline-check",
    title=_("Pipeline check: stream events from a worker"),
    description=_(
        "Emits a steady stream of metric events to check a worker, event storage and live "
        "streaming end to end."
    ),
    params=PipelineCheckParams,
    result=PipelineCheckResult,
    run=run,
    device=DeviceClass.ANY,
    week=None,
    time_limit_s=15 * 60,
    idempotent=True,
    tags=("platform",),
)
