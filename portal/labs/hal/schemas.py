from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field


class DeviceOut(Schema):
    identity: dict[str, Any]
    peaks: dict[str, Any]
    telemetry: dict[str, Any]


class DevicesOut(Schema):
    devices: list[DeviceOut]
    unavailable: dict[str, str]


class TelemetryOut(Schema):
    key: str
    telemetry: dict[str, Any]
    reported: dict[str, float]


class WorkerOut(Schema):
    hostname: str
    queues: list[str]
    devices: list[dict[str, Any]]
    unavailable: dict[str, str]
    started_at: str
    seen_at: str
    live: bool


class PeaksIn(Schema):
    device_key: str = Field(..., max_length=64)
    model: str | None = Field(None, max_length=200)
    fp32_tflops: float | None = Field(None, gt=0)
    fp16_tflops: float | None = Field(None, gt=0)
    bf16_tflops: float | None = Field(None, gt=0)
    int8_tops: float | None = Field(None, gt=0)
    memory_bandwidth_gbps: float | None = Field(None, gt=0)
    note: str = Field("", max_length=500)


class PeaksOut(Schema):
    id: int
    model: str
    device_key: str
    figures: dict[str, Any]
    shared: bool = True
    measured_at: datetime | None = None


class ErrorOut(Schema):
    detail: str
