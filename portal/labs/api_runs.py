"""Run endpoints, mounted once at /api/runs (the old /api/labs/runs spelling is an alias,
see portal.core.middleware.ApiPathMiddleware)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from portal.core.schemas import ErrorOut
from portal.labs.models import Run, RunEvent, RunStatus
from portal.labs.schemas import EventsOut, RunOut, ShareIn
from portal.labs.services import cancel_run, share_run
from portal.labs.workers import served_queues


class RunFilter(Schema):
    lab: str | None = None
    status: RunStatus | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=2**31)


class EventsQuery(Schema):
    after: int = Field(default=0, ge=0, le=2**62)
    limit: int = Field(default=1000, ge=1, le=10_000)


def get_run_for_user(request: HttpRequest, run_id: int) -> Run:
    """The run if the requester may see it (owner or staff); 404 otherwise."""
    run = Run.objects.visible_to(request.user).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run")
    return run


def run_out(run: Run, *, served: set[str] | None = None) -> dict[str, Any]:
    waiting = run.status == RunStatus.QUEUED and run.queue not in (
        served if served is not None else served_queues()
    )
    return {
        "id": run.pk,
        "lab": run.lab_id,
        "status": run.status,
        "waiting_for_worker": waiting,
        "progress": run.progress,
        "progress_note": run.progress_note,
        "params": run.params,
        "queue": run.queue,
        "worker": run.worker,
        "device": run.device,
        "result": run.result,
        "error": run.error,
        "traceback": run.traceback or None,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "last_seq": run.last_seq,
        "shared": run.shared,
    }


def build_router(name: str) -> Router:
    """A router with the run endpoints; `name` keeps operation ids and url names unique."""
    router = Router()

    @router.get("", response=list[RunOut], operation_id=f"{name}_list", url_name=f"{name}_list")
    def list_runs(request: HttpRequest, filters: Query[RunFilter]):
        """Your runs (staff: everyone's), newest first; filter by `lab` and `status`."""
        runs = Run.objects.visible_to(request.user)
        if filters.lab:
            runs = runs.for_lab(filters.lab)
        if filters.status:
            runs = runs.filter(status=filters.status)
        served = served_queues()
        page = runs[filters.offset : filters.offset + filters.limit]
        return [run_out(run, served=served) for run in page]

    @router.get(
        "/{int:run_id}",
        response={200: RunOut, 404: ErrorOut},
        operation_id=f"{name}_get",
        url_name=f"{name}_detail",
    )
    def get_run(request: HttpRequest, run_id: int):
        """Status, parameters, device, result and error (with traceback) of one run."""
        return run_out(get_run_for_user(request, run_id))

    @router.get(
        "/{int:run_id}/events",
        response={200: EventsOut, 404: ErrorOut},
        operation_id=f"{name}_events",
        url_name=f"{name}_events",
    )
    def run_events(request: HttpRequest, run_id: int, query: Query[EventsQuery]):
        """Stored events with seq > `after`, in order (page with `after` = the last seq seen)."""
        run = get_run_for_user(request, run_id)
        events = RunEvent.objects.filter(run=run).after(query.after)[: query.limit]
        return {
            "run": run.pk,
            "status": run.status,
            "last_seq": run.last_seq,
            "events": [e.as_message() for e in events],
        }

    @router.post(
        "/{int:run_id}/cancel",
        response={200: RunOut, 404: ErrorOut, 409: ErrorOut},
        operation_id=f"{name}_cancel",
        url_name=f"{name}_cancel",
    )
    def cancel(request: HttpRequest, run_id: int):
        """Cancel: a queued run ends now; a running one stops within seconds."""
        run = get_run_for_user(request, run_id)
        if run.owner_id != request.user.pk and not request.user.is_staff:
            raise Http404("No such run")
        if run.is_finished:
            return Status(HTTPStatus.CONFLICT, {"detail": f"The run already ended ({run.status})."})
        return run_out(cancel_run(run=run))

    @router.post(
        "/{int:run_id}/share",
        response={200: RunOut, 403: ErrorOut, 404: ErrorOut},
        operation_id=f"{name}_share",
        url_name=f"{name}_share",
    )
    def share(request: HttpRequest, run_id: int, payload: ShareIn):
        """Staff only: let every user use what the run serves (`{"shared": false}` undoes it).

        For an `llm-deploy` run, other users' questions are then answered by its model."""
        run = get_run_for_user(request, run_id)
        if not request.user.is_staff:
            return Status(HTTPStatus.FORBIDDEN, {"detail": "Only staff may share a run."})
        return run_out(share_run(run=run, shared=payload.shared))

    return router


router = build_router("runs")
