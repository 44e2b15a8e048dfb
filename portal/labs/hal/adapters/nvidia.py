"""NVIDIA GPUs through NVML (the `nvidia-ml-py` distribution, imported as `pynvml`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from portal.labs.hal.types import Accelerator, AdapterUnavailable, DeviceIdentity, Telemetry

_init_lock = threading.Lock()
_initialised = False


def _nvml() -> Any:
    global _initialised
    try:
        import pynvml
    except ImportError as exc:
        raise AdapterUnavailable(f"nvidia-ml-py is not installed ({exc})") from exc
    with _init_lock:
        if not _initialised:
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as exc:
                raise AdapterUnavailable(f"NVML unavailable: {exc}") from exc
            _initialised = True
    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _visible_cuda_index(index: int, uuid: str) -> int | None:
    """CUDA's index for NVML device `index`, honouring CUDA_VISIBLE_DEVICES (None: hidden)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return index
    for position, entry in enumerate(item.strip() for item in visible.split(",")):
        if entry == str(index) or (entry and uuid.startswith(entry)):
            return position
    return None


class NvidiaAccelerator(Accelerator):
    def __init__(self, nvml: Any, index: int) -> None:
        self._nvml = nvml
        self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
        h = self._handle
        uuid = self._maybe(lambda: _text(nvml.nvmlDeviceGetUUID(h))) or ""
        major_minor = self._maybe(lambda: nvml.nvmlDeviceGetCudaComputeCapability(h))
        power_limit = self._maybe(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h))
        cuda_index = _visible_cuda_index(index, uuid)
        self.identity = DeviceIdentity(
            key=f"nvidia:{index}",
            vendor="NVIDIA",
            model=_text(nvml.nvmlDeviceGetName(h)),
            memory_bytes=self._maybe(lambda: int(nvml.nvmlDeviceGetMemoryInfo(h).total)),
            driver=self._maybe(lambda: _text(nvml.nvmlSystemGetDriverVersion())),
            compute_capability=f"sm_{major_minor[0]}{major_minor[1]}" if major_minor else None,
            torch_device=f"cuda:{cuda_index}" if cuda_index is not None else None,
            cores=self._maybe(lambda: int(nvml.nvmlDeviceGetNumGpuCores(h))),
            tdp_w=power_limit / 1000 if power_limit else None,
            extra={"uuid": uuid},
        )

    def _maybe(self, read: Callable[[], Any]) -> Any:
        """A reading, or None where the device does not support it."""
        try:
            return read()
        except self._nvml.NVMLError:
            return None

    def telemetry(self) -> Telemetry:
        nvml, h = self._nvml, self._handle
        util = self._maybe(lambda: nvml.nvmlDeviceGetUtilizationRates(h))
        memory = self._maybe(lambda: nvml.nvmlDeviceGetMemoryInfo(h))
        power_mw = self._maybe(lambda: nvml.nvmlDeviceGetPowerUsage(h))
        return Telemetry(
            utilization_pct=float(util.gpu) if util is not None else None,
            memory_used_bytes=int(memory.used) if memory is not None else None,
            power_w=power_mw / 1000 if power_mw is not None else None,
            temperature_c=self._maybe(
                lambda: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
            ),
            sm_clock_mhz=self._maybe(
                lambda: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
            ),
            mem_clock_mhz=self._maybe(
                lambda: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM))
            ),
        )


def probe() -> list[Accelerator]:
    nvml = _nvml()
    try:
        count = nvml.nvmlDeviceGetCount()
    except nvml.NVMLError as exc:
        raise AdapterUnavailable(f"NVML could not count devices: {exc}") from exc
    if count == 0:
        raise AdapterUnavailable("NVML found no NVIDIA GPU")
    return [NvidiaAccelerator(nvml, index) for index in range(count)]
