"""Lab catalogue and launching; run endpoints live at /api/runs (api_runs.py)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from portal.core.schemas import ErrorOut
from portal.labs.registry import Lab, all_labs, get_lab
from portal.labs.schemas import (
    FieldErrorsOut,
    LabOut,
    LaunchIn,
    RunCreatedOut,
    WorkerOut,
)
from portal.labs.services import InvalidParams, TooManyActiveRuns, launch_run
from portal.labs.workers import workers_with_devices

router = Router()


def lab_out(lab: Lab) -> dict[str, Any]:
    return {
        "id": lab.id,
        "title": str(lab.title),
        "description": str(lab.description),
        "week": lab.week,
        "device": str(lab.device),
        "time_limit_s": lab.time_limit_s,
        "tags": list(lab.tags),
        "params_schema": lab.parameter_schema(),
        "defaults": lab.validate({}).model_dump(mode="json"),
    }


@router.get("", response=list[LabOut])
def list_labs(request: HttpRequest):
    """Every registered lab with its parameter JSON schema and defaults."""
    return [lab_out(lab) for lab in all_labs()]


@router.get("/workers", response=list[WorkerOut])
def workers(request: HttpRequest):
    """Celery workers, the queues they serve, the runs they are running, and the devices each
    reported to the HAL with their latest telemetry."""
    return workers_with_devices()


@router.post(
    "/{lab_id}/runs",
    response={
        201: RunCreatedOut,
        404: ErrorOut,
        422: FieldErrorsOut,
        429: ErrorOut,
    },
)
def launch(request: HttpRequest, lab_id: str, payload: LaunchIn):
    """Launch a run: 201 {id, status}; 422 with field errors; 429 past your active-run limit."""
    lab = get_lab(lab_id)
    if lab is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"No lab {lab_id!r}."})
    try:
        run = launch_run(
            user=request.user, lab=lab, params=payload.params, time_limit_s=payload.time_limit_s
        )
    except InvalidParams as exc:
        return Status(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": exc.errors})
    except TooManyActiveRuns as exc:
        return Status(HTTPStatus.TOO_MANY_REQUESTS, {"detail": exc.detail})
    return Status(HTTPStatus.CREATED, {"id": run.pk, "status": run.status})
