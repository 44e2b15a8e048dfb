from __future__ import annotations

import threading
import time

import pytest

import portal.labs.hal as hal
from portal.labs.hal.adapters.sim import SimAccelerator, SimChipSpec
from portal.labs.testing import RecordingContext


class CountingDevice(hal.Accelerator):
    identity = hal.DeviceIdentity(key="count:0", vendor="t", model="t", memory_bytes=None)

    def __init__(self) -> None:
        self.reads = 0
        self.threads: set[str] = set()

    def telemetry(self):
        self.reads += 1
        self.threads.add(threading.current_thread().name)
        return hal.Telemetry(utilization_pct=0.0, power_w=None, temperature_c=50.0)


def test_the_sampler_streams_reported_fields_into_the_run_as_metrics():
    ctx = RecordingContext()
    device = CountingDevice()
    with hal.TelemetrySampler([device], ctx.metric, interval_s=0.02) as sampler:
        time.sleep(0.25)
    assert device.reads >= 5
    assert "hal-telemetry" in device.threads
    temps = ctx.series("hw/count:0/temperature_c")
    assert len(temps) >= 5 and set(temps) == {50.0}
    assert ctx.series("hw/count:0/utilization_pct")[0] == 0.0  # zero is reported
    assert ctx.series("hw/count:0/power_w") == []  # None is not
    steps = [d["step"] for d in ctx.of_kind("metric") if d["name"].endswith("temperature_c")]
    assert steps == sorted(steps)
    assert sampler.latest().temperature_c == 50.0


def test_manual_delivery_queues_points_for_the_owner_thread():
    ctx = RecordingContext()
    sampler = hal.TelemetrySampler(
        [SimAccelerator(0, SimChipSpec())], ctx.metric, interval_s=0.02, deliver="manual"
    ).start()
    time.sleep(0.15)
    assert ctx.of_kind("metric") == []
    delivered = sampler.flush()
    sampler.stop()
    assert delivered > 0 and len(ctx.of_kind("metric")) >= delivered
    assert ctx.series("hw/sim:0/power_w")


def test_a_failing_device_does_not_stop_the_sampler():
    class Flaky(CountingDevice):
        def telemetry(self):
            self.reads += 1
            if self.reads % 2:
                raise OSError("driver hiccup")
            return hal.Telemetry(utilization_pct=1.0)

    flaky = Flaky()
    with hal.TelemetrySampler([flaky], interval_s=0.01):
        time.sleep(0.15)
    assert flaky.reads >= 6


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError):
        hal.TelemetrySampler([], interval_s=0)
