"""The HAL wired into the labs platform and the kernel lab: a run's device, the Labs pages'
workers, measured peaks from the system benchmark into the kernel lab's roofline, and the
chip comparison over real labs.Run rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from portal.labs.hal import (
    Accelerator,
    DeviceIdentity,
    Telemetry,
    device_for_torch,
    discovery,
    get_device,
    record_measured_peaks,
)
from portal.labs.hal.models import MeasuredPeak, WorkerHost
from portal.labs.hal.services import (
    WorkerTelemetryLoop,
    publish_worker_telemetry,
    report_worker_devices,
)
from portal.labs.kernels.engine.peaks import device_peaks
from portal.labs.models import Run, RunStatus
from portal.labs.runner import _hal_device_info, describe_device
from portal.labs.testing import run_inline
from portal.labs.workers import _CACHE_KEY as WORKERS_CACHE_KEY

pytestmark = pytest.mark.django_db


class FakeH200(Accelerator):
    """An NVIDIA-like device as the NVML adapter would describe it."""

    def __init__(self, index: int = 0) -> None:
        self.identity = DeviceIdentity(
            key=f"nvidia:{index}",
            vendor="NVIDIA",
            model="NVIDIA H200",
            memory_bytes=141 * 2**30,
            driver="570.00",
            compute_capability="sm_90",
            torch_device=f"cuda:{index}",
            cores=132,
            tdp_w=700.0,
        )

    def telemetry(self) -> Telemetry:
        return Telemetry(utilization_pct=0.0, memory_used_bytes=0, power_w=75.5, temperature_c=31)


@pytest.fixture
def with_fake_gpu(no_nvml) -> Iterator[FakeH200]:
    """This host's CPU and sim (any real NVIDIA GPU hidden) plus a fake H200 torch calls cuda:0."""
    report = discovery.discovery_report()
    gpu = FakeH200()
    report.devices.append(gpu)
    report.unavailable.pop("nvidia", None)
    yield gpu


@pytest.fixture
def workers_cache() -> Iterator[None]:
    """The workers that answer `celery inspect`, as the labs' cache would hold them."""
    yield
    cache.delete(WORKERS_CACHE_KEY)


# --- 1. the run's worker and device come from the HAL -------------------------------------


def test_a_cpu_run_records_the_hal_identity_of_the_host_cpu(fresh_discovery):
    info = describe_device("cpu", "celery@here")

    cpu = get_device("cpu:0")
    assert info["worker"] == "celery@here" and info["torch_device"] == "cpu"
    assert info["device_key"] == "cpu:0"
    assert info["identity"]["model"] == cpu.identity.model == info["device_name"]
    assert info["identity"]["cores"] == cpu.identity.cores
    assert info["peaks"]["source"] == cpu.peaks().source
    keys = [a["key"] for a in info["accelerators"]]
    assert keys[0] == "cpu:0" and "sim:0" in keys
    assert "nvidia" in info["unavailable"]  # and why: no NVML here


def test_a_cuda_run_records_the_gpu_torch_drives_not_the_cpu(with_fake_gpu):
    info = _hal_device_info("cuda")  # what resolve_device() answers on a GPU worker

    assert info["device_key"] == "nvidia:0"
    assert info["identity"]["compute_capability"] == "sm_90"
    assert info["peaks"]["bf16_tflops"] == pytest.approx(989.4)
    assert info["peaks"]["source"] == "table"
    assert _hal_device_info("cuda:1").get("device_key") is None  # no such GPU here


def test_torch_devices_map_to_hal_devices_and_a_simulated_chip_has_none(with_fake_gpu):
    assert device_for_torch("cpu").key == "cpu:0"
    assert device_for_torch("cuda").key == "nvidia:0"
    assert device_for_torch("cuda:0") is with_fake_gpu
    assert device_for_torch("cuda:3") is None
    assert get_device("sim:0").identity.torch_device is None


def test_the_run_page_shows_the_hal_device_it_ran_on(owner, owner_client, fresh_discovery):
    run = Run.objects.create(
        owner=owner,
        lab_id="system-benchmark",
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        status=RunStatus.SUCCEEDED,
        worker="celery@box",
        device=describe_device("cpu", "celery@box"),
    )
    body = owner_client.get(reverse("labs:run", args=[run.pk])).content.decode()
    assert 'id="run-device-key">cpu:0<' in body
    assert get_device("cpu:0").identity.model in body
    api_device = owner_client.get(f"/api/runs/{run.pk}").json()["device"]
    assert api_device["device_key"] == "cpu:0"


# --- 2. the Labs pages show each worker with its devices and live telemetry ---------------


def test_the_labs_index_shows_each_worker_with_its_devices_and_live_telemetry(
    owner_client, fresh_discovery, workers_cache, monkeypatch
):
    monkeypatch.setenv("PORTAL_HAL_WORKER_TELEMETRY_S", "0")
    report_worker_devices(hostname="celery@box", queues=["cpu"])
    publish_worker_telemetry(hostname="celery@box")
    cache.set(WORKERS_CACHE_KEY, {"celery@box": ["cpu"]}, 30)

    body = owner_client.get(reverse("labs:index")).content.decode()

    section = body[body.index('id="workers"') :]
    assert 'data-worker="celery@box"' in section
    for key in ("cpu:0", "sim:0"):
        assert f'data-device="{key}"' in section
    sim_row = section[section.index('data-device="sim:0"') :].split("</tr>")[0]
    assert " W</td>" in sim_row and "°C" in sim_row  # the simulated chip reports power
    assert get_device("cpu:0").identity.model in section
    assert 'data-answering="yes" data-reported="yes"' in section
    assert "no-telemetry" not in section


def test_the_workers_partial_refreshes_alone_and_marks_stale_telemetry(
    owner_client, fresh_discovery, workers_cache
):
    now = timezone.now()
    WorkerHost.objects.create(
        hostname="celery@quiet",
        queues=["gpu"],
        devices=[FakeH200().describe(with_telemetry=False)],
        unavailable={},
        started_at=now,
        seen_at=now,
    )
    cache.delete("hal:telemetry:celery@quiet")
    cache.set(WORKERS_CACHE_KEY, {"celery@quiet": ["gpu"], "celery@new": ["cpu"]}, 30)

    response = owner_client.get(reverse("labs:index"), headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="workers"') and "<html" not in body
    quiet = body[body.index('data-worker="celery@quiet"') :].split('data-worker="celery@new"')[0]
    assert 'data-device="nvidia:0"' in quiet and "no-telemetry" in quiet
    assert 'data-worker="celery@new" data-answering="yes" data-reported="no"' in body


def test_a_worker_that_stopped_answering_but_still_reports_telemetry_is_listed(
    owner_client, fresh_discovery, workers_cache, monkeypatch
):
    monkeypatch.setenv("PORTAL_HAL_WORKER_TELEMETRY_S", "0")
    report_worker_devices(hostname="celery@busy", queues=["cpu"])
    publish_worker_telemetry(hostname="celery@busy")
    cache.set(WORKERS_CACHE_KEY, {}, 30)

    body = owner_client.get(reverse("labs:index")).content.decode()
    assert 'data-worker="celery@busy" data-answering="no" data-reported="yes"' in body


def test_the_workers_api_gives_each_worker_its_devices(api, fresh_discovery, workers_cache):
    report_worker_devices(hostname="celery@box", queues=["cpu"])
    publish_worker_telemetry(hostname="celery@box")
    cache.set(WORKERS_CACHE_KEY, {"celery@box": ["cpu"]}, 30)

    workers = {w["name"]: w for w in api.get("/api/labs/workers").json()}

    box = workers["celery@box"]
    assert box["answering"] and box["reported"] and box["live"]
    devices = {d["identity"]["key"]: d for d in box["devices"]}
    assert devices["sim:0"]["telemetry"]["power_w"] > 0
    assert "power_w" in devices["cpu:0"]["telemetry"]  # None where the CPU reports no power


def test_the_worker_loop_reports_the_devices_again_when_its_row_is_gone(fresh_discovery):
    loop = WorkerTelemetryLoop("celery@again", interval_s=60, queues=["cpu", "gpu"])
    loop.beat()
    host = WorkerHost.objects.get(hostname="celery@again")
    assert host.queues == ["cpu", "gpu"] and "cpu:0" in host.device_keys()
    before = host.seen_at
    loop.beat()
    host.refresh_from_db()
    assert host.seen_at > before
    assert WorkerHost.objects.filter(hostname="celery@again").count() == 1


# --- 3. measured peaks: the system benchmark records them, the kernel roofline reads them --


BANDWIDTH_BENCHMARK = {
    "copy_sizes_mib": [64],
    "matmul_sizes": [128, 512],  # only N >= 512 counts as a CPU's peak
    "dtypes": ["float32", "bfloat16"],
    "repeats": 2,
    "warmup": 1,
}


def _run_of(user) -> Run:
    return Run.objects.create(
        owner=user,
        lab_id="system-benchmark",
        status=RunStatus.RUNNING,
        queue="cpu",
        time_limit_s=600,
        soft_time_limit_s=500,
    )


def _matmul_gflops(ctx, dtype: str, n: int) -> float:
    (row,) = [
        r
        for r in next(t for t in ctx.of_kind("table") if t["name"] == "measurements")["rows"]
        if r["test"] == "matmul" and r["dtype"] == dtype and r["size"] == f"N={n}"
    ]
    return row["value"]


def test_a_staff_run_of_the_system_benchmark_records_the_shared_peaks_into_the_hal(
    fresh_discovery, staff
):
    ctx = run_inline("system-benchmark", BANDWIDTH_BENCHMARK, run_id=_run_of(staff).pk)

    result = ctx.final
    cpu = get_device("cpu:0")
    row = MeasuredPeak.objects.for_model(cpu.identity.model).get()
    assert row.shared and row.owner == staff and result["recorded_peaks"]["shared"] is True
    assert result["recorded_peaks"]["id"] == row.pk
    assert result["recorded_peaks"]["device_key"] == row.device_key == "cpu:0"
    assert row.memory_bandwidth_gbps == pytest.approx(result["largest_copy_bandwidth_gbps"], 1e-3)
    # the peak is the N=512 point, whatever N=128 measured
    assert row.fp32_tflops == pytest.approx(_matmul_gflops(ctx, "float32", 512) / 1e3, 1e-2)
    assert row.bf16_tflops == pytest.approx(_matmul_gflops(ctx, "bfloat16", 512) / 1e3, 1e-2)
    assert row.fp16_tflops is None
    peaks = cpu.peaks()
    assert peaks.source == "measured"
    assert peaks.memory_bandwidth_gbps == row.memory_bandwidth_gbps
    assert any("recorded measured peaks" in d["text"] for d in ctx.of_kind("log"))


def test_an_ordinary_users_run_keeps_its_peaks_to_itself(fresh_discovery, owner, other_user):
    from django.test import Client

    before = get_device("cpu:0").peaks()
    ctx = run_inline("system-benchmark", BANDWIDTH_BENCHMARK, run_id=_run_of(owner).pk)
    row = MeasuredPeak.objects.get()
    assert row.owner == owner and not row.shared
    assert ctx.final["recorded_peaks"]["shared"] is False
    fresh_discovery_peaks = get_device("cpu:0").peaks()
    assert fresh_discovery_peaks.source == before.source != "measured"
    assert fresh_discovery_peaks.fp32_tflops == before.fp32_tflops
    # the owner sees their measurement; another user does not
    mine, theirs = Client(), Client()
    mine.force_login(owner)
    theirs.force_login(other_user)
    assert [p["id"] for p in mine.get("/api/hal/peaks").json()] == [row.pk]
    assert theirs.get("/api/hal/peaks").json() == []


def test_tiny_matmuls_never_become_peaks_even_for_staff(fresh_discovery, staff):
    tiny = {**BANDWIDTH_BENCHMARK, "copy_sizes_mib": [64], "matmul_sizes": [8, 128]}
    ctx = run_inline("system-benchmark", tiny, run_id=_run_of(staff).pk)
    row = MeasuredPeak.objects.get()
    assert row.shared and row.memory_bandwidth_gbps > 0
    assert row.fp32_tflops is None and row.bf16_tflops is None
    assert any("no matmul of N >= 512" in d["text"] for d in ctx.of_kind("log"))
    assert get_device("cpu:0").peaks().fp32_tflops != pytest.approx(
        _matmul_gflops(ctx, "float32", 8) / 1e3
    )


def test_small_copies_record_no_bandwidth_and_recording_can_be_switched_off(fresh_discovery):
    small = {**BANDWIDTH_BENCHMARK, "copy_sizes_mib": [1, 4], "dtypes": ["float32"]}
    ctx = run_inline("system-benchmark", small)
    row = MeasuredPeak.objects.get()
    assert row.memory_bandwidth_gbps is None and row.fp32_tflops > 0
    assert not row.shared  # no run, no staff: not the chip's peaks
    assert any("may still fit in a cache" in d["text"] for d in ctx.of_kind("log"))

    off = run_inline("system-benchmark", {**small, "record_peaks": False})
    assert off.final["recorded_peaks"] is None
    assert MeasuredPeak.objects.count() == 1


def test_the_kernel_roofline_prefers_the_measured_peaks_of_the_hal(fresh_discovery):
    cpu = get_device("cpu:0")
    record_measured_peaks(
        "cpu:0", memory_bandwidth_gbps=12.5, fp32_tflops=0.25, bf16_tflops=0.125, note="bench"
    )

    peaks = device_peaks(torch.device("cpu"), measure_copy=False)

    assert peaks.source == "hal/measured"
    assert peaks.name == cpu.identity.model
    assert peaks.mem_gbs == 12.5
    assert peaks.tflops == {"float32": 0.25, "bfloat16": 0.125}
    assert peaks.peak_tflops("float16") == 0.25  # not measured: the fp32 rate
    assert any("cpu:0" in note for note in peaks.notes)


def test_without_a_measurement_a_cpu_roof_uses_the_hal_estimate_and_a_measured_copy(
    fresh_discovery,
):
    estimate = get_device("cpu:0").peaks()
    peaks = device_peaks(torch.device("cpu"))
    if estimate.fp32_tflops is None:  # this kernel reports no clock: nothing to estimate from
        assert peaks.source == "measured"
        return
    assert peaks.source == "hal/estimate"
    assert peaks.tflops["float32"] == estimate.fp32_tflops
    assert peaks.mem_gbs == peaks.copy_gbs > 0
    assert "memory roof: the copy bandwidth measured in this run" in peaks.notes


def test_a_gpu_roof_is_the_hal_table_then_the_measurement_figure_by_figure(with_fake_gpu):
    gpu = torch.device("cuda", 0)
    table = device_peaks(gpu, measure_copy=False)
    assert table.source == "hal/table" and table.name == "NVIDIA H200"
    assert table.mem_gbs == 4800 and table.tflops["bfloat16"] == pytest.approx(989.4)

    record_measured_peaks("nvidia:0", bf16_tflops=702.3, memory_bandwidth_gbps=4100)
    measured = device_peaks(gpu, measure_copy=False)
    assert measured.source == "hal/measured"
    assert measured.mem_gbs == 4100 and measured.tflops["bfloat16"] == 702.3
    assert measured.tflops["float32"] == pytest.approx(67)  # kept from the datasheet
