"""The host CPU through psutil (and RAPL for power where the kernel exposes it)."""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path

import psutil

from portal.labs.hal.host import cpu_model, cpuinfo
from portal.labs.hal.types import Accelerator, DeviceIdentity, PeakFigures, Telemetry

RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")
INTERESTING_FLAGS = ("avx512_bf16", "amx_bf16", "avx512f", "avx2", "fma", "sse4_2", "neon", "sve")


class CpuAccelerator(Accelerator):
    def __init__(self) -> None:
        info = cpuinfo()
        flags = set((info.get("flags") or info.get("Features") or "").split())
        vendor = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}.get(
            info.get("vendor_id", ""), info.get("vendor_id") or platform.machine()
        )
        self._flags = flags
        self.identity = DeviceIdentity(
            key="cpu:0",
            vendor=vendor,
            model=cpu_model(),
            memory_bytes=psutil.virtual_memory().total,
            driver=f"{platform.system()} {platform.release()}",
            compute_capability=",".join(f for f in INTERESTING_FLAGS if f in flags) or None,
            torch_device="cpu",
            cores=psutil.cpu_count(logical=True),
        )
        self._lock = threading.Lock()
        self._rapl_last: tuple[float, int] | None = self._read_rapl()
        psutil.cpu_percent(interval=None)  # primes the counter: the first call always says 0.0

    @staticmethod
    def _read_rapl() -> tuple[float, int] | None:
        try:
            return time.monotonic(), int(RAPL.read_text())
        except (OSError, ValueError):
            return None

    def _power(self) -> float | None:
        now = self._read_rapl()
        if now is None:
            return None
        with self._lock:
            last, self._rapl_last = self._rapl_last, now
        if last is None or now[0] - last[0] <= 0 or now[1] < last[1]:
            return None
        return (now[1] - last[1]) / 1e6 / (now[0] - last[0])

    @staticmethod
    def _temperature() -> float | None:
        read = getattr(psutil, "sensors_temperatures", None)
        if read is None:
            return None
        try:
            sensors = read()
        except OSError:
            return None
        for name in ("coretemp", "k10temp", "zenpower", "cpu_thermal", "acpitz"):
            if sensors.get(name):
                return float(sensors[name][0].current)
        return None

    def telemetry(self) -> Telemetry:
        memory = psutil.virtual_memory()
        freq = psutil.cpu_freq()
        return Telemetry(
            utilization_pct=float(psutil.cpu_percent(interval=None)),
            memory_used_bytes=int(memory.total - memory.available),
            power_w=self._power(),
            temperature_c=self._temperature(),
            sm_clock_mhz=float(freq.current) if freq and freq.current else None,
            mem_clock_mhz=None,
        )

    def table_peaks(self) -> PeakFigures:
        """cores x clock x FMA SIMD width: an upper bound, not a measurement."""
        freq = psutil.cpu_freq()
        mhz = (freq.max or freq.current) if freq else 0.0
        if not mhz or not self.identity.cores:
            return PeakFigures(source="unknown", note="clock speed not reported")
        if "avx512f" in self._flags:
            per_cycle = 64  # 2 FMA units x 16 fp32 lanes x 2 flops
        elif "avx2" in self._flags and "fma" in self._flags:
            per_cycle = 32
        else:
            per_cycle = 8
        physical = psutil.cpu_count(logical=False) or self.identity.cores
        fp32 = physical * mhz * 1e6 * per_cycle / 1e12
        bf16 = fp32 * 2 if "avx512_bf16" in self._flags else None
        return PeakFigures(
            fp32_tflops=round(fp32, 3),
            bf16_tflops=round(bf16, 3) if bf16 else None,
            source="estimate",
            note=f"{physical} cores x {mhz:.0f} MHz x {per_cycle} fp32 flops/cycle",
        )


def probe() -> list[Accelerator]:
    return [CpuAccelerator()]
