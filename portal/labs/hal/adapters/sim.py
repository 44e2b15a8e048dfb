"""A simulated accelerator: specs from configuration, telemetry that follows the work it is given.

It stands in for the in-house NPU whose SDK is not public (and for any chip on a
machine without one): `run(Kernel)` costs a kernel with a roofline model
(compute vs memory bound, occupancy that grows with work per launch, launch
overhead, concurrent streams), and the device's utilisation, power, memory,
temperature and clocks then move the way a real chip's would, so the sampler,
the pages and the RL environment see a live device.

Configuration: `settings.HAL_SIM_DEVICES` or the environment variable
`PORTAL_HAL_SIM` (JSON, or a path to a JSON file): a list of objects with the
fields of `SimChipSpec`; `{"profile": "H100"}` starts from a known chip's
datasheet figures (a digital twin). `[]` disables the simulated devices.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from portal.labs.hal.types import Accelerator, DeviceIdentity, PeakFigures, Telemetry

PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
GB = 1024**3


class SimError(RuntimeError):
    """A kernel the simulated chip refuses (out of memory, unsupported precision)."""


@dataclass(frozen=True)
class SimChipSpec:
    name: str = "SimNPU-1"
    vendor: str = "Portal (simulated)"
    memory_gb: float = 32.0
    fp32_tflops: float | None = 30.0
    fp16_tflops: float | None = 240.0
    bf16_tflops: float | None = 240.0
    int8_tops: float | None = 480.0
    memory_bandwidth_gbps: float = 1200.0
    tdp_w: float = 300.0
    idle_w: float = 40.0
    cores: int = 64
    max_streams: int = 4
    boost_clock_mhz: float = 1800.0
    base_clock_mhz: float = 1100.0
    mem_clock_mhz: float = 3200.0
    launch_overhead_us: float = 15.0
    # Work per core at which a launch reaches half the chip's peak (occupancy curve).
    half_occupancy_mflop_per_core: float = 40.0
    ambient_c: float = 30.0
    thermal_c_per_w: float = 0.17
    thermal_tau_s: float = 4.0
    throttle_c: float = 88.0
    sdk: str = "simsdk 1.0"
    compute_capability: str = "npu-v1"

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> SimChipSpec:
        raw = dict(raw)
        base = cls()
        profile = raw.pop("profile", None)
        if profile:
            base = cls.from_profile(str(profile))
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown simulated-chip fields: {', '.join(sorted(unknown))}")
        return replace(base, **raw)

    @classmethod
    def from_profile(cls, profile: str) -> SimChipSpec:
        from portal.labs.hal.peaks import known_chip

        chip = known_chip(profile)
        if chip is None:
            raise ValueError(f"no known chip matches profile {profile!r}")
        return cls(
            name=f"{chip.name} (twin)",
            vendor=chip.name.split()[0] + " (simulated)",
            memory_gb=chip.memory_gb,
            fp32_tflops=chip.fp32,
            fp16_tflops=chip.fp16,
            bf16_tflops=chip.bf16,
            int8_tops=chip.int8,
            memory_bandwidth_gbps=chip.bandwidth_gbps,
            tdp_w=chip.tdp_w or 400.0,
            idle_w=(chip.tdp_w or 400.0) * 0.12,
            cores=132,
            compute_capability="twin",
        )


@dataclass(frozen=True)
class Kernel:
    """Work handed to the simulated chip: one launch per stream, all streams concurrent."""

    flops: float  # per stream
    bytes_moved: float  # per stream (weights and activations read and written)
    precision: str = "fp32"
    memory_bytes: float = 0.0  # resident while it runs, all streams together
    streams: int = 1
    shared_bytes: float = 0.0  # read once for all streams (weights)


@dataclass(frozen=True)
class KernelResult:
    seconds: float
    achieved_tflops: float
    bandwidth_gbps: float
    utilization: float  # fraction of peak compute
    power_w: float
    energy_j: float
    bound: str  # "compute" or "memory"
    throttled: bool = False


@dataclass
class _State:
    busy_s: float = 0.0  # simulated seconds of work since the last reading
    energy_j: float = 0.0
    memory_bytes: float = 0.0
    last_work: float = 0.0
    last_read: float = field(default_factory=time.monotonic)
    utilization: float = 0.0
    power_w: float = 0.0
    temperature_c: float = 0.0


class SimAccelerator(Accelerator):
    # Resident memory stays allocated this long after the last kernel (a caching allocator).
    RELEASE_AFTER_S = 1.0

    def __init__(self, index: int, spec: SimChipSpec) -> None:
        self.spec = spec
        self.identity = DeviceIdentity(
            key=f"sim:{index}",
            vendor=spec.vendor,
            model=spec.name,
            memory_bytes=int(spec.memory_gb * GB),
            driver=spec.sdk,
            compute_capability=spec.compute_capability,
            torch_device=None,
            cores=spec.cores,
            tdp_w=spec.tdp_w,
            extra={"simulated": True, "max_streams": spec.max_streams},
        )
        self._lock = threading.Lock()
        self._state = _State(power_w=spec.idle_w, temperature_c=self._steady_temp(spec.idle_w))

    def _steady_temp(self, watts: float) -> float:
        return self.spec.ambient_c + self.spec.thermal_c_per_w * watts

    def table_peaks(self) -> PeakFigures:
        s = self.spec
        return PeakFigures(
            fp32_tflops=s.fp32_tflops,
            fp16_tflops=s.fp16_tflops,
            bf16_tflops=s.bf16_tflops,
            int8_tops=s.int8_tops,
            memory_bandwidth_gbps=s.memory_bandwidth_gbps,
            source="config",
            note="simulated chip specification",
        )

    # -- the analytical model -------------------------------------------------------------

    def estimate(self, kernel: Kernel, *, throttled: bool = False) -> KernelResult:
        """Cost a kernel without running it (no effect on telemetry). Raises SimError."""
        s = self.spec
        peak = self.table_peaks().tflops(kernel.precision)
        if not peak:
            raise SimError(f"{s.name} does not support {kernel.precision}")
        if kernel.memory_bytes > s.memory_gb * GB:
            raise SimError(
                f"out of memory: {kernel.memory_bytes / GB:.1f} GiB > {s.memory_gb:g} GiB"
            )
        streams = max(1, min(int(kernel.streams), s.max_streams))
        clock = s.base_clock_mhz / s.boost_clock_mhz if throttled else 1.0
        total_flops = kernel.flops * streams
        # Occupancy: small launches leave cores idle; concurrent streams fill them.
        half = s.half_occupancy_mflop_per_core * 1e6 * s.cores
        occupancy = total_flops / (total_flops + half)
        compute_s = total_flops / (peak * 1e12 * clock * 0.9 * max(occupancy, 1e-6))
        bytes_total = kernel.bytes_moved * streams + kernel.shared_bytes
        memory_s = bytes_total / (s.memory_bandwidth_gbps * 1e9 * 0.85)
        # Streams contend for the scheduler: a few percent each beyond the first.
        contention = 1.0 + 0.04 * (streams - 1)
        seconds = max(compute_s, memory_s) * contention + s.launch_overhead_us * 1e-6
        compute_frac = compute_s / seconds
        memory_frac = memory_s / seconds
        activity = min(1.0, 0.8 * compute_frac * (0.5 + 0.5 * occupancy) + 0.3 * memory_frac)
        power = s.idle_w + (s.tdp_w - s.idle_w) * activity * (0.85 if throttled else 1.0)
        return KernelResult(
            seconds=seconds,
            achieved_tflops=total_flops / seconds / 1e12,
            bandwidth_gbps=bytes_total / seconds / 1e9,
            utilization=min(1.0, total_flops / seconds / (peak * 1e12)),
            power_w=power,
            energy_j=power * seconds,
            bound="compute" if compute_s >= memory_s else "memory",
            throttled=throttled,
        )

    def run(self, kernel: Kernel) -> KernelResult:
        """Cost a kernel and charge it to the device, so telemetry follows the work."""
        with self._lock:
            throttled = self._state.temperature_c >= self.spec.throttle_c
        result = self.estimate(kernel, throttled=throttled)
        with self._lock:
            st = self._state
            st.busy_s += result.seconds
            st.energy_j += result.energy_j
            st.memory_bytes = kernel.memory_bytes
            st.last_work = time.monotonic()
        return result

    # -- telemetry ----------------------------------------------------------------------

    def telemetry(self) -> Telemetry:
        s = self.spec
        with self._lock:
            st = self._state
            now = time.monotonic()
            dt = max(now - st.last_read, 1e-6)
            # Simulated work runs faster than wall time: a device given work back to back is busy.
            busy = min(1.0, st.busy_s / dt)
            if st.busy_s >= dt:  # saturated: the average power of the work itself
                watts = st.energy_j / st.busy_s
            else:  # work for busy_s, idle for the rest of the interval
                watts = (st.energy_j + s.idle_w * (dt - st.busy_s)) / dt
            blend = 1.0 - math.exp(-dt / 0.5)  # half-second smoothing, like NVML's window
            st.utilization += (busy - st.utilization) * blend
            st.power_w += (watts - st.power_w) * blend
            heat = 1.0 - math.exp(-dt / s.thermal_tau_s)
            st.temperature_c += (self._steady_temp(st.power_w) - st.temperature_c) * heat
            if now - st.last_work > self.RELEASE_AFTER_S:
                st.memory_bytes = 0.0
            st.busy_s = 0.0
            st.energy_j = 0.0
            st.last_read = now
            throttled = st.temperature_c >= s.throttle_c
            active = st.utilization > 0.05
            return Telemetry(
                utilization_pct=round(st.utilization * 100, 2),
                memory_used_bytes=int(st.memory_bytes),
                power_w=round(st.power_w, 2),
                temperature_c=round(st.temperature_c, 2),
                sm_clock_mhz=s.base_clock_mhz if throttled or not active else s.boost_clock_mhz,
                mem_clock_mhz=s.mem_clock_mhz,
            )


def configured_specs() -> list[SimChipSpec]:
    """The simulated chips this host offers: settings, then PORTAL_HAL_SIM, else one SimNPU-1."""
    raw: Any = None
    try:
        from django.conf import settings

        raw = getattr(settings, "HAL_SIM_DEVICES", None)
    except Exception:  # settings not configured: a plain script
        raw = None
    if raw is None:
        env = os.environ.get("PORTAL_HAL_SIM", "").strip()
        if env:
            raw = json.loads(Path(env).read_text() if not env.startswith(("[", "{")) else env)
    if raw is None:
        return [SimChipSpec()]
    if isinstance(raw, dict):
        raw = [raw]
    return [SimChipSpec.from_mapping(item) for item in raw]


_instances: dict[tuple[int, SimChipSpec], SimAccelerator] = {}
_instances_lock = threading.Lock()


def probe() -> list[Accelerator]:
    # One instance per spec per process, so work given to "sim:0" anywhere shows in its telemetry.
    devices: list[Accelerator] = []
    with _instances_lock:
        for index, spec in enumerate(configured_specs()):
            key = (index, spec)
            if key not in _instances:
                _instances[key] = SimAccelerator(index, spec)
            devices.append(_instances[key])
    return devices
