"""Reads of sweeps and points shaped for the page, the API and the charts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import F

from portal.labs.kernels.models import Measurement, Sweep

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def latest_sweeps(user: AbstractBaseUser | AnonymousUser, limit: int = 20) -> list[Sweep]:
    return list(Sweep.objects.visible_to(user).with_points().latest_first()[:limit])


def chart_payload(sweep: Sweep) -> dict[str, Any]:
    """What static/kernels/roofline.js draws: the roof (peaks) and the timed points."""
    points = [
        {
            "kernel": m.kernel,
            "impl": m.impl,
            "dtype": m.dtype,
            "n": m.n,
            "intensity": m.intensity,
            "tflops": m.tflops,
            "gbs": m.gbs,
            "median_ms": m.median_ms,
            "frac_roofline": m.frac_roofline,
        }
        for m in sweep.measurements.filter(status="ok", median_ms__isnull=False)
    ]
    peaks = sweep.peaks or {}
    return {
        "device": sweep.device_name or sweep.device,
        "mem_gbs": peaks.get("mem_gbs"),
        "copy_gbs": peaks.get("copy_gbs"),
        "tflops": peaks.get("tflops") or {},
        "source": peaks.get("source", ""),
        "points": points,
    }


def measurements(sweep: Sweep) -> list[Measurement]:
    return list(sweep.measurements.all())


# --- kernel submissions -----------------------------------------------------------------------

BASELINE_NAMES = {"eager": "PyTorch eager", "compiled": "torch.compile"}


def leaderboard_devices(problem: str) -> list[str]:
    from portal.labs.kernels.models import Submission

    return sorted(
        set(Submission.objects.passing().filter(problem=problem).values_list("device", flat=True))
    )


def leaderboard(*, problem: str, device: str, dtype: str) -> list[dict[str, Any]]:
    """Each user's best passing submission, fastest first (geometric mean of per-shape
    medians), then the PyTorch baselines of the latest graded submission on this board as
    reference rows (timed by the trusted grader, not by the submission)."""
    from portal.labs.kernels.models import Submission

    best = sorted(
        Submission.objects.board(problem=problem, device=device, dtype=dtype).select_related(
            "owner"
        ),
        key=lambda s: (s.score_ms, s.created_at, s.pk),
    )
    rows: list[dict[str, Any]] = [
        {
            "rank": i,
            "username": s.owner.get_username(),
            "score_ms": s.score_ms,
            "run_id": s.run_id,
            "submission_id": s.pk,
            "language": s.language,
            "reference": False,
            "created_at": s.created_at,
        }
        for i, s in enumerate(best, start=1)
    ]
    latest = (
        Submission.objects.passing()
        .filter(problem=problem, device=device, dtype=dtype, result__has_key="baselines")
        .exclude(result__baselines={})
        .order_by(F("graded_at").desc(nulls_last=True), "-id")
        .first()
    )
    baselines: dict[str, float] = (latest.result.get("baselines") or {}) if latest else {}
    for name, score in sorted(baselines.items(), key=lambda kv: kv[1]):
        rows.append(
            {
                "rank": None,
                "username": BASELINE_NAMES.get(name, name),
                "score_ms": score,
                "run_id": latest.run_id if latest else None,
                "submission_id": None,
                "language": "pytorch",
                "reference": True,
                "created_at": latest.graded_at if latest else None,
            }
        )
    return rows
