"""The one interface every accelerator adapter implements.

Values a device does not report are `None`, never 0: a GPU at 0 W and a CPU
that cannot read its power draw are different facts.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

# table: datasheet; measured: the system benchmark; config: a simulated chip's spec;
# estimate: derived from cores x clock x SIMD width (CPUs).
PeakSource = Literal["table", "measured", "config", "estimate", "unknown"]


class NoSuchDevice(LookupError):
    """A device key that this host cannot serve, with the reason why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"no such device {key!r}: {reason}")
        self.key = key
        self.reason = reason


class AdapterUnavailable(RuntimeError):
    """An adapter that cannot run here (no driver, no binding): the reason is the message."""


@dataclass(frozen=True)
class DeviceIdentity:
    key: str  # "cpu:0", "nvidia:0", "amd:1", "sim:0": adapter name + index, stable on one host
    vendor: str
    model: str
    memory_bytes: int | None
    driver: str | None = None
    # "sm_90" for NVIDIA, "gfx942" for AMD, ISA extensions for a CPU, a version for a simulated NPU
    compute_capability: str | None = None
    # What to hand to torch: "cpu", "cuda:0"; None when torch cannot drive it (a simulated chip).
    torch_device: str | None = "cpu"
    cores: int | None = None  # SMs / CUs / CPU cores / NPU cores
    tdp_w: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def adapter(self) -> str:
        return self.key.split(":", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Telemetry:
    utilization_pct: float | None = None
    memory_used_bytes: int | None = None
    power_w: float | None = None
    temperature_c: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    timestamp: float = field(default_factory=time.time)

    FIELDS = (
        "utilization_pct",
        "memory_used_bytes",
        "power_w",
        "temperature_c",
        "sm_clock_mhz",
        "mem_clock_mhz",
    )

    def reported(self) -> dict[str, float]:
        """Only the fields the device reported (None left out, 0 kept)."""
        return {
            name: getattr(self, name) for name in self.FIELDS if getattr(self, name) is not None
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PeakFigures:
    fp32_tflops: float | None = None
    fp16_tflops: float | None = None
    bf16_tflops: float | None = None
    int8_tops: float | None = None
    memory_bandwidth_gbps: float | None = None
    source: PeakSource = "unknown"
    note: str = ""

    FIGURES = ("fp32_tflops", "fp16_tflops", "bf16_tflops", "int8_tops", "memory_bandwidth_gbps")

    def merged(self, other: PeakFigures) -> PeakFigures:
        """Figures from `other` where it has them, ours elsewhere; the source is `other`'s."""
        values = {
            name: getattr(other, name) if getattr(other, name) is not None else getattr(self, name)
            for name in self.FIGURES
        }
        return PeakFigures(**values, source=other.source, note=other.note or self.note)

    def tflops(self, precision: str) -> float | None:
        return {
            "fp32": self.fp32_tflops,
            "fp16": self.fp16_tflops,
            "bf16": self.bf16_tflops,
            "int8": self.int8_tops,
        }.get(precision)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Accelerator(ABC):
    """One device as seen by the portal. Adapters subclass this; nothing else is required."""

    identity: DeviceIdentity

    @property
    def key(self) -> str:
        return self.identity.key

    @abstractmethod
    def telemetry(self) -> Telemetry:
        """A fresh reading. Must be cheap (well under a millisecond where possible) and not raise."""

    def table_peaks(self) -> PeakFigures:
        """Datasheet figures for this chip (the adapter may override, e.g. from configuration)."""
        from portal.labs.hal.peaks import lookup_peaks

        return lookup_peaks(self.identity.model)

    def peaks(self) -> PeakFigures:
        """Datasheet figures overridden by the latest measurement recorded for this chip model."""
        from portal.labs.hal.peaks import measured_peaks

        base = self.table_peaks()
        measured = measured_peaks(self.identity)
        return base.merged(measured) if measured is not None else base

    def describe(self, *, with_telemetry: bool = True, with_peaks: bool = True) -> dict[str, Any]:
        """A JSON-ready description (identity, peaks, telemetry) for pages, the API and workers."""
        data: dict[str, Any] = {"identity": self.identity.as_dict()}
        if with_peaks:
            data["peaks"] = self.peaks().as_dict()
        if with_telemetry:
            data["telemetry"] = self.telemetry().as_dict()
        return data

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """Identity and peaks, for code that serialises pydantic-like objects (the labs runner)."""
        return self.describe(with_telemetry=False)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release driver handles, if any."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key} {self.identity.model}>"
