from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field


class LabOut(Schema):
    id: str
    title: str
    description: str
    week: int | None
    device: str
    time_limit_s: int
    tags: list[str]
    params_schema: dict[str, Any]
    defaults: dict[str, Any]


class LaunchIn(Schema):
    params: dict[str, Any] = Field(default_factory=dict)
    time_limit_s: int | None = Field(
        default=None, ge=2, description="Lower the lab's own time limit for this run (seconds)."
    )


class RunCreatedOut(Schema):
    id: int
    status: str


class RunOut(Schema):
    id: int
    lab: str
    status: str
    waiting_for_worker: bool
    progress: float
    progress_note: str
    params: dict[str, Any]
    queue: str
    worker: str
    device: dict[str, Any]
    result: dict[str, Any] | None
    error: str
    traceback: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    last_seq: int
    shared: bool = False


class ShareIn(Schema):
    shared: bool = True


class EventOut(Schema):
    seq: int
    kind: str
    ts: datetime
    data: dict[str, Any]


class EventsOut(Schema):
    run: int
    status: str
    last_seq: int
    events: list[EventOut]


class WorkerOut(Schema):
    name: str
    queues: list[str]
    running: list[int]
    answering: bool  # answered `celery inspect` just now
    reported: bool  # reported its devices to the HAL when it started
    live: bool  # its devices' telemetry is fresh
    devices: list[dict[str, Any]]  # HAL: identity, peaks, latest telemetry (None: stale)
    unavailable: dict[str, str]  # HAL adapters that found no device there, with the reason


class FieldErrorsOut(Schema):
    detail: list[dict[str, Any]]
