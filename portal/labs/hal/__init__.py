"""Hardware abstraction layer: one interface for every accelerator the labs run on.

    from portal.labs.hal import discover, get_device, TelemetrySampler

    for device in discover():              # CPU, NVIDIA (NVML), AMD (amdsmi), sim, plug-ins
        print(device.identity, device.telemetry(), device.peaks())
    gpu = get_device("nvidia:0")           # NoSuchDevice("...", reason) when absent
    here = device_for_torch("cuda")        # the HAL's view of a torch device (None: unknown)

Importing this package is cheap and never touches a driver or the database;
adapters are probed on the first `discover()`. A new vendor is one module with
a `probe() -> list[Accelerator]` registered under the entry-point group
`portal.hal_adapters` (see docs/hal.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.labs.hal.discovery import (
    ENTRY_POINT_GROUP,
    DiscoveryReport,
    device_for_torch,
    discover,
    discovery_report,
    get_device,
)
from portal.labs.hal.peaks import KNOWN_CHIPS, lookup_peaks, record_measured_peaks
from portal.labs.hal.sampler import DEFAULT_INTERVAL_S, TelemetrySampler, metric_name
from portal.labs.hal.types import (
    Accelerator,
    AdapterUnavailable,
    DeviceIdentity,
    NoSuchDevice,
    PeakFigures,
    Telemetry,
)

if TYPE_CHECKING:
    from portal.labs.hal.adapters.sim import Kernel, KernelResult, SimAccelerator, SimChipSpec

__all__ = [
    "DEFAULT_INTERVAL_S",
    "ENTRY_POINT_GROUP",
    "KNOWN_CHIPS",
    "Accelerator",
    "AdapterUnavailable",
    "DeviceIdentity",
    "DiscoveryReport",
    "Kernel",
    "KernelResult",
    "NoSuchDevice",
    "PeakFigures",
    "SimAccelerator",
    "SimChipSpec",
    "Telemetry",
    "TelemetrySampler",
    "device_for_torch",
    "discover",
    "discovery_report",
    "get_device",
    "lookup_peaks",
    "metric_name",
    "record_measured_peaks",
]

_SIM_NAMES = {"Kernel", "KernelResult", "SimAccelerator", "SimChipSpec"}


def __getattr__(name: str) -> Any:
    if name in _SIM_NAMES:
        from portal.labs.hal.adapters import sim

        return getattr(sim, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
