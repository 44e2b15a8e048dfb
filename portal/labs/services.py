"""Writes of the labs platform: launch, cancel, store events, finish, reap.

Every write runs in a transaction; tasks are enqueued and events published
only after it commits, so a browser never sees an event the database lacks.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from pydantic import ValidationError

from portal.core.realtime import publish
from portal.labs.conf import queue_for, setting_float, setting_int
from portal.labs.models import EventKind, Run, RunEvent, RunStatus, run_group
from portal.labs.registry import Lab, get_lab

log = logging.getLogger(__name__)


class LaunchError(Exception):
    """A run could not be launched; `detail` says why in words for the user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidParams(LaunchError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid parameters")
        self.errors = errors


class TooManyActiveRuns(LaunchError):
    pass


@dataclass(frozen=True)
class NewEvent:
    kind: str
    data: dict[str, Any]
    ts: datetime


def param_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as JSON: field path, message, type."""
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False)
    ]


def _limits(lab: Lab, time_limit_s: int | None) -> tuple[int, int]:
    if time_limit_s is None or time_limit_s >= lab.time_limit_s:
        return lab.time_limit_s, lab.soft_limit
    hard = max(2, int(time_limit_s))
    # leave the lab a moment between the soft exception and the hard kill
    return hard, max(1, min(lab.soft_limit, hard - max(1, hard // 10)))


def launch_run(
    *,
    user: AbstractBaseUser,
    lab: Lab,
    params: dict[str, Any],
    time_limit_s: int | None = None,
) -> Run:
    """Validate `params`, create a queued run and enqueue it after commit.

    Raises InvalidParams (field errors) or TooManyActiveRuns (the per-user
    limit, settings.LABS_MAX_ACTIVE_RUNS_PER_USER). `time_limit_s` may only
    lower the lab's own limit.
    """
    try:
        validated = lab.validate(params, user=user)
    except ValidationError as exc:
        raise InvalidParams(param_errors(exc)) from exc
    hard, soft = _limits(lab, time_limit_s)
    limit = setting_int("LABS_MAX_ACTIVE_RUNS_PER_USER")
    with transaction.atomic():
        # serialise launches of one user so two requests cannot both pass the limit
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = Run.objects.filter(owner=user).active().count()
        if active >= limit:
            raise TooManyActiveRuns(
                f"You already have {active} active runs (limit {limit}); "
                "wait for one to finish or cancel one."
            )
        run = Run.objects.create(
            owner=user,
            lab_id=lab.id,
            params=validated.model_dump(mode="json"),
            queue=queue_for(lab.route),
            task_id=str(uuid.uuid4()),
            time_limit_s=hard,
            soft_time_limit_s=soft,
        )
        append_events(run.pk, [status_event(run)])
        transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: Run) -> None:
    from portal.labs.tasks import execute_run

    execute_run.apply_async(
        args=[run.pk],
        queue=run.queue,
        task_id=run.task_id,
        time_limit=run.time_limit_s,
        soft_time_limit=run.soft_time_limit_s,
    )


def status_event(run: Run) -> NewEvent:
    return NewEvent(EventKind.STATUS, run.snapshot(), timezone.now())


def append_events(
    run_id: int, events: list[NewEvent], *, run_updates: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Store `events` with the next sequence numbers of the run, publish them after commit.

    The run row is locked while numbering, so concurrent writers (the worker,
    a cancel from the web) interleave without gaps or duplicates. Returns the
    stored events as messages.
    """
    if not events and not run_updates:
        return []
    with transaction.atomic():
        updated = Run.objects.filter(pk=run_id).update(
            last_seq=F("last_seq") + len(events), **(run_updates or {})
        )
        if not updated:
            return []
        last = Run.objects.filter(pk=run_id).values_list("last_seq", flat=True).get()
        first = last - len(events) + 1
        rows = [
            RunEvent(run_id=run_id, seq=first + i, kind=e.kind, ts=e.ts, data=e.data)
            for i, e in enumerate(events)
        ]
        RunEvent.objects.bulk_create(rows)
        messages = [row.as_message() for row in rows]
        if messages:
            transaction.on_commit(
                lambda: publish(run_group(run_id), "run.events", {"events": messages})
            )
    return messages


def _transition(
    run_id: int,
    *,
    from_statuses: list[str],
    to: RunStatus,
    before: list[NewEvent] | None = None,
    **fields: Any,
) -> Run | None:
    """Move a run between statuses atomically, with a status event; None if it was not in `from_statuses`."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in from_statuses:
            return None
        run.status = to
        for name, value in fields.items():
            setattr(run, name, value)
        if to.is_finished:
            run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", *fields])
        append_events(run.pk, [*(before or []), status_event(run)])
        if to.is_finished:
            transaction.on_commit(lambda: _announce_finished(run))
    return run


def _announce_finished(run: Run) -> None:
    """Send `run_finished` (e.g. the Feishu notification); a failing receiver is only logged."""
    from portal.labs.signals import run_finished

    for receiver, outcome in run_finished.send_robust(sender=Run, run=run):
        if isinstance(outcome, Exception):
            log.error(
                "run_finished receiver %r failed for run %s", receiver, run.pk, exc_info=outcome
            )


def start_run(*, run_id: int, worker: str, device: dict[str, Any]) -> Run | None:
    """Claim a queued run for this worker; None if it is not queued any more."""
    now = timezone.now()
    return _transition(
        run_id,
        from_statuses=[RunStatus.QUEUED],
        to=RunStatus.RUNNING,
        worker=worker,
        device=device,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )


def finish_run(
    *,
    run_id: int,
    status: RunStatus,
    result: dict[str, Any] | None = None,
    error: str = "",
    traceback: str = "",
) -> Run | None:
    """Record how a running run ended; a run already finished (lost, cancelled) is left alone.

    A result not of the shape of its lab's `Result` fails the run (it is not stored):
    readers parse stored results with that model.
    """
    fields: dict[str, Any] = {"error": error, "traceback": traceback}
    before = []
    if result is not None:
        mismatch = _result_mismatch(run_id, result)
        if mismatch:
            status, error, result = RunStatus.FAILED, mismatch, None
            fields["error"] = error
    if result is not None:
        fields["result"] = result
        before.append(NewEvent(EventKind.RESULT, result, timezone.now()))
    if status == RunStatus.SUCCEEDED:
        fields["progress"] = 1.0
    return _transition(
        run_id, from_statuses=[RunStatus.RUNNING], to=status, before=before, **fields
    )


def _result_mismatch(run_id: int, result: dict[str, Any]) -> str:
    """Why `result` is not of its lab's Result shape ("" when it is, or the lab is unknown)."""
    lab_id = Run.objects.filter(pk=run_id).values_list("lab_id", flat=True).first()
    lab = get_lab(lab_id) if lab_id else None
    if lab is None:
        return ""
    try:
        lab.validate_result(result)
    except ValidationError as exc:
        log.error("run %s: the result of %s does not match its Result: %s", run_id, lab.id, exc)
        return f"The lab returned a result that does not match {lab.result.__name__}: {exc}"
    return ""


def cancel_run(*, run: Run) -> Run:
    """Cancel a run: a queued one ends now, a running one is asked to stop (cooperatively).

    The worker sees the request at its next heartbeat (settings.LABS_HEARTBEAT_S);
    a lab that never polls ctx.cancelled() is stopped at its next ctx call after
    settings.LABS_CANCEL_GRACE_S.
    """
    cancelled = _transition(
        run.pk,
        from_statuses=[RunStatus.QUEUED],
        to=RunStatus.CANCELLED,
        error="Cancelled before it started.",
        cancel_requested_at=timezone.now(),
    )
    if cancelled is not None:
        from portal.celery import app

        transaction.on_commit(lambda: app.control.revoke(cancelled.task_id))
        return cancelled
    with transaction.atomic():
        updated = Run.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=timezone.now())
        if updated:
            append_events(
                run.pk, [NewEvent(EventKind.LOG, {"text": "Cancel requested."}, timezone.now())]
            )
    run.refresh_from_db()
    return run


def share_run(*, run: Run, shared: bool) -> Run:
    """Mark a run shared or not (a staff decision: callers check). A shared `llm-deploy`
    run answers every user's questions, not only its owner's."""
    run.shared = shared
    run.save(update_fields=["shared"])
    return run


def reap_lost_runs(*, now: datetime | None = None) -> list[int]:
    """End running runs whose worker stopped answering.

    A run past its hard time limit (plus the heartbeat tolerance) failed with a
    time-limit error (Celery killed it); any other run whose heartbeat is older
    than settings.LABS_LOST_AFTER_S is `lost`. Returns the ids it ended.
    """
    now = now or timezone.now()
    lost_after = timedelta(seconds=setting_float("LABS_LOST_AFTER_S"))
    ended: list[int] = []
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=now - lost_after)
    for run in stale.only("pk", "started_at", "time_limit_s", "heartbeat_at"):
        over_limit = run.started_at is not None and now - run.started_at > timedelta(
            seconds=run.time_limit_s
        )
        if over_limit:
            done = finish_run(
                run_id=run.pk,
                status=RunStatus.FAILED,
                error=f"Hard time limit of {run.time_limit_s} s exceeded; the worker killed the run.",
            )
        else:
            done = _transition(
                run.pk,
                from_statuses=[RunStatus.RUNNING],
                to=RunStatus.LOST,
                error=(
                    f"The worker {run_worker(run.pk)} stopped sending heartbeats "
                    f"(last {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); it probably died."
                ),
            )
        if done is not None:
            ended.append(run.pk)
    return ended


def run_worker(run_id: int) -> str:
    return Run.objects.filter(pk=run_id).values_list("worker", flat=True).first() or "?"
