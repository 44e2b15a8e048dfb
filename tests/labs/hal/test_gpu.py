"""The HAL on a real NVIDIA GPU: NVML discovery, telemetry and the bridge to torch's device.
Skipped, with the reason, where torch sees no CUDA GPU."""

from __future__ import annotations

import pytest
import torch

import portal.labs.hal as hal

pytestmark = pytest.mark.gpu


def test_nvml_finds_the_gpu_torch_drives_with_identity_telemetry_and_peaks(fresh_discovery):
    gpu = hal.device_for_torch("cuda")
    assert gpu is not None and gpu.identity.adapter == "nvidia"
    assert gpu.identity.model == torch.cuda.get_device_name(0)
    major, minor = torch.cuda.get_device_capability(0)
    assert gpu.identity.compute_capability == f"sm_{major}{minor}"
    reading = gpu.telemetry().reported()
    assert {"utilization_pct", "memory_used_bytes", "temperature_c", "sm_clock_mhz"} <= set(reading)
    assert 0 <= reading["utilization_pct"] <= 100


def test_the_sampler_reads_the_gpu_on_its_own_thread(fresh_discovery):
    import time

    gpu = hal.device_for_torch("cuda")
    points: list[tuple[str, float, float]] = []
    with hal.TelemetrySampler([gpu], lambda *p: points.append(p), interval_s=0.05) as sampler:
        time.sleep(0.3)
    assert sampler.samples >= 3
    assert any(name == hal.metric_name(gpu.key, "sm_clock_mhz") for name, _, _ in points)
