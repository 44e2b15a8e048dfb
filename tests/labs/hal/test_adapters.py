"""Each adapter against what this machine really has (CPU, sim), and NVIDIA/AMD through
their bindings' behaviour when no device exists."""

from __future__ import annotations

import sys
import time
import types
from importlib.metadata import EntryPoint

import pytest

import portal.labs.hal as hal
from portal.labs.hal import discovery
from portal.labs.hal.adapters import nvidia
from portal.labs.hal.adapters.sim import Kernel, SimAccelerator, SimChipSpec, SimError


def test_importing_the_package_probes_no_adapter():
    code = (
        "import sys; import portal.labs.hal; "
        "assert 'pynvml' not in sys.modules and 'psutil' not in sys.modules; "
        "assert 'django.db.models' not in sys.modules"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_discover_finds_the_host_cpu_with_real_identity_and_telemetry(fresh_discovery):
    cpu = hal.get_device("cpu:0")
    assert cpu.identity.torch_device == "cpu"
    assert cpu.identity.memory_bytes > 1024**3
    assert cpu.identity.cores >= 1
    reading = cpu.telemetry()
    assert 0.0 <= reading.utilization_pct <= 100.0
    assert 0 < reading.memory_used_bytes < cpu.identity.memory_bytes
    # This VM exposes neither RAPL nor a temperature sensor: not reported, not zero.
    assert "power_w" not in reading.reported() or reading.power_w >= 0


def test_cpu_peaks_are_an_estimate_from_cores_and_clock(fresh_discovery):
    peaks = hal.get_device("cpu:0").peaks()
    assert peaks.source == "estimate"
    assert peaks.fp32_tflops and peaks.fp32_tflops > 0


def test_missing_nvml_is_no_such_device_with_the_reason(no_nvml):
    report = hal.discovery_report()
    assert "NVML" in report.unavailable["nvidia"]
    with pytest.raises(hal.NoSuchDevice, match="NVML") as err:
        hal.get_device("nvidia:0")
    assert err.value.reason == report.unavailable["nvidia"]


def test_missing_amdsmi_is_no_such_device_with_the_reason(fresh_discovery, monkeypatch):
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # import amdsmi -> ImportError
    with pytest.raises(hal.NoSuchDevice, match="amdsmi is not importable"):
        hal.get_device("amd:0")


def test_amdsmi_that_cannot_initialise_degrades_to_a_reason(fresh_discovery, monkeypatch):
    class AmdSmiLibraryException(Exception):
        pass

    def init() -> None:
        raise AmdSmiLibraryException("Error code: 34 AMDSMI_STATUS_DRIVER_NOT_LOADED")

    monkeypatch.setitem(sys.modules, "amdsmi", types.SimpleNamespace(amdsmi_init=init))
    report = hal.discovery_report()
    assert "DRIVER_NOT_LOADED" in report.unavailable["amd"]
    assert any(d.key == "cpu:0" for d in report.devices)


def test_an_nvml_device_maps_readings_and_keeps_unsupported_ones_unreported(
    fresh_discovery, monkeypatch
):
    """pynvml itself, with its library calls answered as a GPU without power sensing would."""
    import pynvml

    def not_supported(*_):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    calls = {
        "nvmlInit": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
        "nvmlDeviceGetName": lambda h: b"NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetUUID": lambda h: "GPU-1234",
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(total=80 * 2**30, used=0),
        "nvmlSystemGetDriverVersion": lambda: "560.35",
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
        "nvmlDeviceGetNumGpuCores": not_supported,
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=0, memory=0),
        "nvmlDeviceGetPowerUsage": not_supported,
        "nvmlDeviceGetTemperature": lambda h, sensor: 41,
        "nvmlDeviceGetClockInfo": lambda h, clock: 1980 if clock == pynvml.NVML_CLOCK_SM else 2619,
    }
    for name, fn in calls.items():
        monkeypatch.setattr(pynvml, name, fn)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    gpu = hal.get_device("nvidia:0")
    assert gpu.identity.compute_capability == "sm_90"
    assert gpu.identity.torch_device == "cuda:0"
    assert gpu.identity.tdp_w == 700
    assert gpu.identity.cores is None
    reading = gpu.telemetry()
    assert reading.utilization_pct == 0.0  # reported as zero: idle
    assert reading.power_w is None  # not reported: unknown
    assert reading.reported() == {
        "utilization_pct": 0.0,
        "memory_used_bytes": 0,
        "temperature_c": 41.0,
        "sm_clock_mhz": 1980.0,
        "mem_clock_mhz": 2619.0,
    }
    assert gpu.peaks().bf16_tflops == 989.4


def test_cuda_visible_devices_hides_or_renumbers_nvml_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-ab")
    assert nvidia._visible_cuda_index(2, "GPU-xx") == 0
    assert nvidia._visible_cuda_index(5, "GPU-abcd") == 1
    assert nvidia._visible_cuda_index(0, "GPU-zz") is None


def test_an_adapter_installed_through_the_entry_point_group_is_discovered(
    fresh_discovery, monkeypatch
):
    module = types.ModuleType("vendor_npu_adapter")

    class VendorNpu(hal.Accelerator):
        identity = hal.DeviceIdentity(key="vnpu:0", vendor="Vendor", model="NPU-9", memory_bytes=1)

        def telemetry(self):
            return hal.Telemetry(utilization_pct=12.0)

    module.probe = lambda: [VendorNpu()]
    module.broken = lambda: 1 / 0
    monkeypatch.setitem(sys.modules, "vendor_npu_adapter", module)
    eps = [
        EntryPoint("vnpu", "vendor_npu_adapter:probe", discovery.ENTRY_POINT_GROUP),
        EntryPoint("broken", "vendor_npu_adapter:broken", discovery.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(discovery, "entry_points", lambda group: eps)

    report = hal.discovery_report()
    assert hal.get_device("vnpu:0").telemetry().utilization_pct == 12.0
    assert "ZeroDivisionError" in report.unavailable["broken"]
    assert hal.get_device("cpu:0")  # one broken adapter hides nothing else
    with pytest.raises(hal.NoSuchDevice, match="no adapter named 'tpu'"):
        hal.get_device("tpu:0")


def test_sim_telemetry_follows_the_work_it_is_given():
    chip = SimAccelerator(0, SimChipSpec())
    idle = chip.telemetry()
    assert idle.utilization_pct == 0.0
    assert idle.power_w == pytest.approx(chip.spec.idle_w)
    assert idle.memory_used_bytes == 0

    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        chip.run(Kernel(flops=4e12, bytes_moved=2e9, precision="bf16", memory_bytes=8 * 2**30))
    busy = chip.telemetry()
    assert busy.utilization_pct > 50
    assert busy.power_w > idle.power_w + 50
    assert busy.memory_used_bytes == 8 * 2**30
    assert busy.temperature_c > idle.temperature_c
    assert busy.sm_clock_mhz == chip.spec.boost_clock_mhz

    chip.RELEASE_AFTER_S = 0.05
    time.sleep(1.2)
    cooled = chip.telemetry()
    assert cooled.utilization_pct < busy.utilization_pct / 2
    assert cooled.memory_used_bytes == 0


def test_sim_roofline_separates_compute_and_memory_bound_work():
    chip = SimAccelerator(0, SimChipSpec())
    gemm = chip.estimate(Kernel(flops=1e13, bytes_moved=1e9, precision="bf16"))
    stream = chip.estimate(Kernel(flops=1e9, bytes_moved=1e10, precision="bf16"))
    assert gemm.bound == "compute" and stream.bound == "memory"
    assert gemm.achieved_tflops <= chip.spec.bf16_tflops
    assert stream.bandwidth_gbps <= chip.spec.memory_bandwidth_gbps
    fp32 = chip.estimate(Kernel(flops=1e13, bytes_moved=1e9, precision="fp32"))
    assert fp32.seconds > gemm.seconds * 4
    with pytest.raises(SimError, match="out of memory"):
        chip.estimate(Kernel(flops=1, bytes_moved=1, memory_bytes=64 * 2**30))


def test_sim_chips_come_from_settings_including_a_twin_of_a_known_chip(fresh_discovery, settings):
    settings.HAL_SIM_DEVICES = [
        {"name": "TinyNPU", "bf16_tflops": None, "memory_gb": 8},
        {"profile": "MI300X"},
    ]
    tiny, twin = hal.get_device("sim:0"), hal.get_device("sim:1")
    assert tiny.identity.model == "TinyNPU" and tiny.identity.memory_bytes == 8 * 2**30
    with pytest.raises(SimError, match="does not support bf16"):
        tiny.run(Kernel(flops=1e9, bytes_moved=1e6, precision="bf16"))
    assert twin.peaks().bf16_tflops == 1307.4 and twin.peaks().source == "config"
    settings.HAL_SIM_DEVICES = [{"name": "X", "warp_drive": 1}]
    discovery._cache = None
    assert "warp_drive" in hal.discovery_report().unavailable["sim"]


def test_sim_devices_are_configured_by_the_environment_when_settings_say_nothing(
    fresh_discovery, monkeypatch
):
    monkeypatch.setenv("PORTAL_HAL_SIM", '[{"profile": "L40S"}]')
    assert hal.get_device("sim:0").identity.model == "NVIDIA L40S (twin)"
    monkeypatch.setenv("PORTAL_HAL_SIM", "[]")
    discovery._cache = None
    with pytest.raises(hal.NoSuchDevice, match="no device found"):
        hal.get_device("sim:0")
