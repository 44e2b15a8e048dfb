"""AMD Instinct / Radeon GPUs through AMD SMI (`amdsmi`, shipped with ROCm), when importable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from portal.labs.hal.types import Accelerator, AdapterUnavailable, DeviceIdentity, Telemetry

_init_lock = threading.Lock()
_initialised = False


def _amdsmi() -> Any:
    global _initialised
    try:
        import amdsmi
    except Exception as exc:  # ImportError, or OSError when libamd_smi.so is missing
        raise AdapterUnavailable(f"amdsmi is not importable ({exc})") from exc
    with _init_lock:
        if not _initialised:
            try:
                amdsmi.amdsmi_init()
            except Exception as exc:  # AmdSmiLibraryException and friends
                raise AdapterUnavailable(f"AMD SMI unavailable: {exc}") from exc
            _initialised = True
    return amdsmi


class AmdAccelerator(Accelerator):
    def __init__(self, smi: Any, index: int, handle: Any) -> None:
        self._smi = smi
        self._handle = handle
        asic = self._maybe(lambda: smi.amdsmi_get_gpu_asic_info(handle)) or {}
        driver = self._maybe(lambda: smi.amdsmi_get_gpu_driver_info(handle)) or {}
        power = self._maybe(lambda: smi.amdsmi_get_power_cap_info(handle)) or {}
        power_cap = power.get("power_cap")
        self.identity = DeviceIdentity(
            key=f"amd:{index}",
            vendor="AMD",
            model=str(asic.get("market_name") or "AMD GPU"),
            memory_bytes=self._maybe(
                lambda: int(smi.amdsmi_get_gpu_memory_total(handle, smi.AmdSmiMemoryType.VRAM))
            ),
            driver=driver.get("driver_version"),
            compute_capability=asic.get("target_graphics_version"),
            # ROCm builds of torch drive AMD GPUs through the "cuda" device type.
            torch_device=f"cuda:{index}",
            cores=asic.get("num_of_compute_units"),
            # AMD SMI reports the power cap in microwatts.
            tdp_w=power_cap / 1e6 if isinstance(power_cap, int | float) and power_cap else None,
        )

    def _maybe(self, read: Callable[[], Any]) -> Any:
        try:
            value = read()
        except Exception:  # AmdSmiLibraryException: not supported on this ASIC
            return None
        return None if value == "N/A" else value

    def telemetry(self) -> Telemetry:
        smi, h = self._smi, self._handle
        activity = self._maybe(lambda: smi.amdsmi_get_gpu_activity(h)) or {}
        power = self._maybe(lambda: smi.amdsmi_get_power_info(h)) or {}
        watts = power.get("current_socket_power")
        if watts in (None, "N/A"):
            watts = power.get("average_socket_power")
        gfx = self._maybe(lambda: smi.amdsmi_get_clock_info(h, smi.AmdSmiClkType.GFX)) or {}
        mem = self._maybe(lambda: smi.amdsmi_get_clock_info(h, smi.AmdSmiClkType.MEM)) or {}

        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) else None

        return Telemetry(
            utilization_pct=number(activity.get("gfx_activity")),
            memory_used_bytes=self._maybe(
                lambda: int(smi.amdsmi_get_gpu_memory_usage(h, smi.AmdSmiMemoryType.VRAM))
            ),
            power_w=number(watts),
            temperature_c=number(
                self._maybe(
                    lambda: smi.amdsmi_get_temp_metric(
                        h, smi.AmdSmiTemperatureType.HOTSPOT, smi.AmdSmiTemperatureMetric.CURRENT
                    )
                )
            ),
            sm_clock_mhz=number(gfx.get("clk")),
            mem_clock_mhz=number(mem.get("clk")),
        )


def probe() -> list[Accelerator]:
    smi = _amdsmi()
    try:
        handles = smi.amdsmi_get_processor_handles()
    except Exception as exc:
        raise AdapterUnavailable(f"AMD SMI could not list devices: {exc}") from exc
    if not handles:
        raise AdapterUnavailable("AMD SMI found no AMD GPU")
    return [AmdAccelerator(smi, index, handle) for index, handle in enumerate(handles)]
