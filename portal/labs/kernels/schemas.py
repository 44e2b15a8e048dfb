from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class SafeguardOut(Schema):
    key: str
    title: str
    explanation: str


class KernelOut(Schema):
    name: str
    title: str
    summary: str
    bytes: str
    flops: str


class ImplOut(Schema):
    name: str
    title: str
    summary: str


class SuiteOut(Schema):
    kernels: list[KernelOut]
    impls: list[ImplOut]
    safeguards: list[SafeguardOut]


class SweepOut(Schema):
    id: int
    source: str
    status: str
    run_id: int | None
    device: str
    device_name: str
    started_at: datetime
    finished_at: datetime | None
    peaks: dict[str, Any]
    notes: list[str]


class SweepDetailOut(SweepOut):
    points: list[dict[str, Any]]
