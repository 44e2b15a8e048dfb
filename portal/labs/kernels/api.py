from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest
from ninja import Router, Status

from portal.core.schemas import ErrorOut
from portal.labs.kernels import api_submissions, querysets
from portal.labs.kernels.engine.catalog import IMPL_INFO, KERNEL_INFO, SAFEGUARDS
from portal.labs.kernels.models import Sweep
from portal.labs.kernels.schemas import SuiteOut, SweepDetailOut, SweepOut

router = Router()


@router.get("/suite", response=SuiteOut)
def suite(request: HttpRequest):
    """The kernels, implementations and harness safeguards of the kernel lab."""
    return {
        "kernels": [
            {"name": n, "title": t, "summary": s, "bytes": b, "flops": f}
            for n, t, s, b, f in KERNEL_INFO
        ],
        "impls": [{"name": n, "title": t, "summary": s} for n, t, s in IMPL_INFO],
        "safeguards": [{"key": k, "title": t, "explanation": e} for k, t, e in SAFEGUARDS],
    }


@router.get("/sweeps", response=list[SweepOut])
def list_sweeps(request: HttpRequest, limit: int = 20):
    """Your recent sweeps with at least one point (and imported bench results), newest first."""
    return querysets.latest_sweeps(request.user, max(1, min(limit, 100)))


@router.get("/sweeps/{sweep_id}", response={200: SweepDetailOut, 404: ErrorOut})
def get_sweep(request: HttpRequest, sweep_id: int):
    """One sweep with every point (correctness, timing, roofline fields)."""
    sweep = Sweep.objects.visible_to(request.user).filter(pk=sweep_id).first()
    if sweep is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"no sweep {sweep_id}"})
    sweep.points = [m.data for m in querysets.measurements(sweep)]
    return sweep


router.add_router("", api_submissions.router)
