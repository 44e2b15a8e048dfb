"""The `kernel-submission` lab: grades one learner submission and streams its stages.

A run of this lab is what POST /api/kernels/submissions creates. The worker runs the
trusted grader (portal.labs.kernels.grading.grader), which starts the learner's code
in a bubblewrap sandbox; this module only turns the grader's stage events into run
events and stores the verdict on the Submission.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field

from portal.env import env_bool, env_float, env_str
from portal.labs.context import RunContext
from portal.labs.registry import DeviceClass, Lab, LabResult

LAB_ID = "kernel-submission"
STAGES = ("sandbox", "compile", "correctness", "baselines", "timing", "verdict")


class SubmissionParams(BaseModel):
    submission_id: int = Field(
        default=0, ge=0, le=2**63 - 1, description="The submission to grade."
    )


class SubmissionResult(LabResult):
    """What a grading run returns (the run's `result`)."""

    submission_id: int
    verdict: str
    stage: str = ""
    reason: str = ""
    message: str = ""
    explanation: str = ""
    line: int | None = None
    score_ms: float | None = None
    flagged: bool = False
    timed: bool = False
    indicative: bool = False
    sandboxed: bool = True
    device: str = ""
    baselines: dict[str, float] = Field(default_factory=dict)
    checks: list[dict[str, Any]] = Field(default_factory=list)
    timings: list[dict[str, Any]] = Field(default_factory=list)
    start_s: float | None = None
    log: str = ""


def _setting(name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    if value is not None:
        return value
    if isinstance(default, bool):
        return env_bool(name, default)
    if isinstance(default, float):
        return env_float(name, default)
    return env_str(name, default)


def grading_options() -> dict[str, Any]:
    """Knobs from settings or the environment. KERNELS_GRADING_ALLOW_UNSANDBOXED is the
    staff switch for a single-user install without user namespaces."""
    baselines = _setting("KERNELS_GRADING_BASELINES", "eager,compiled")
    if isinstance(baselines, str):
        baselines = [b.strip() for b in baselines.split(",") if b.strip()]
    return {
        "baselines": tuple(baselines),
        "allow_unsandboxed": bool(_setting("KERNELS_GRADING_ALLOW_UNSANDBOXED", False)),
        "wall_s": float(_setting("KERNELS_GRADING_WALL_S", 300.0)),
    }


@functools.cache
def _peaks(device: str) -> Any:
    import torch

    from portal.labs.kernels.engine.peaks import device_peaks

    return device_peaks(torch.device(device), measure_copy=False)


def _device_label(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


class _Streamer:
    """Grader stage events -> run events: a log line each, tables per stage, progress."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.rows: dict[str, list[dict[str, Any]]] = {"correctness": [], "timing": []}

    def __call__(self, stage: str, status: str, message: str, data: dict[str, Any]) -> None:
        self.ctx.log(f"[{stage}] {status}: {message}")
        if stage in STAGES:
            self.ctx.progress(STAGES.index(stage) / len(STAGES), f"{stage}: {status}")
        if stage in self.rows and "shape" in data:
            self.rows[stage].append({"shape": "x".join(map(str, data["shape"])), **{
                k: (round(v, 6) if isinstance(v, float) else v)
                for k, v in data.items() if k != "shape"
            }})  # fmt: skip
            self.ctx.table(stage, self.rows[stage])
        if stage == "timing" and "median_ms" in data:
            self.ctx.metric("median ms", data["median_ms"])


def run_submission(params: SubmissionParams, ctx: RunContext) -> dict[str, Any]:
    from portal.labs.kernels import submission_services
    from portal.labs.kernels.grading.grader import GradeConfig, grade
    from portal.labs.kernels.grading.sandbox import Limits

    submission = submission_services.submission_for_run(
        submission_id=params.submission_id, run_id=ctx.run_id
    )
    options = grading_options()
    on_gpu = ctx.device.startswith("cuda")
    limits = Limits(
        wall_s=options["wall_s"],
        cpu_s=int(options["wall_s"]),
        address_space_bytes=None if on_gpu else Limits().address_space_bytes,
    )
    ctx.log(f"grading submission {submission.pk}: {submission.problem} {submission.dtype} "
            f"{submission.language} on {ctx.device}")  # fmt: skip
    cfg = GradeConfig(
        problem=submission.problem,
        dtype=submission.dtype,
        language=submission.language,
        source=submission.source,
        device=ctx.device,
        baselines=options["baselines"],
        allow_unsandboxed=options["allow_unsandboxed"],
        limits=limits,
        peaks=_peaks(ctx.device),
        timed_reps=20 if on_gpu else 10,
    )
    graded = grade(cfg, _Streamer(ctx))
    result = SubmissionResult(
        submission_id=submission.pk,
        **{k: v for k, v in graded.as_dict().items() if k in SubmissionResult.model_fields},
    )
    result.device = _device_label(ctx.device)
    submission_services.record_grade(submission=submission, result=result)
    ctx.progress(1.0, result.verdict)
    return result.model_dump(mode="json")


SUBMISSION_LAB = Lab(
    id=LAB_ID,
    title=_("Kernel submission: your own kernel, sandboxed, checked, timed, ranked"),
    description=_(
        "Grades one kernel you submitted (PyTorch, Triton or C++/CUDA) inside a bubblewrap "
        "sandbox: correctness on fresh inputs against a float64 reference, anti-exploit "
        "checks, timing against PyTorch eager and torch.compile, roofline place, verdict. "
        "Launched from the submission form, not from here."
    ),
    params=SubmissionParams,
    result=SubmissionResult,
    run=run_submission,
    device=DeviceClass.ANY,
    week=10,
    time_limit_s=10 * 60,
    idempotent=False,
    tags=("kernels", "submission"),
)
