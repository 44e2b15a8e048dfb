"""A background thread that samples device telemetry into a lab run as metrics.

Reading NVML or psutil costs microseconds to a millisecond; doing it every
environment step would cut CartPole from ~85k to ~25k steps/s. The sampler
reads on its own thread at a fixed interval and keeps the latest reading for
wrappers to look up for free.

Delivery: `deliver="thread"` writes to the sink from the sampler thread;
`deliver="manual"` queues the points and the owner calls `flush()` from its
own thread (for RunContexts that are not thread-safe, e.g. a database one).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal

from portal.labs.hal.types import Accelerator, Telemetry

log = logging.getLogger(__name__)

MetricSink = Callable[[str, float, float], None]  # (name, value, step)
DEFAULT_INTERVAL_S = 0.25


def metric_name(device_key: str, field_name: str) -> str:
    return f"hw/{device_key}/{field_name}"


class TelemetrySampler:
    def __init__(
        self,
        devices: Iterable[Accelerator],
        sink: MetricSink | None = None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        deliver: Literal["thread", "manual"] = "thread",
        max_queue: int = 10_000,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.devices = list(devices)
        self.sink = sink
        self.interval_s = interval_s
        self.deliver = deliver
        self.samples = 0
        self._latest: dict[str, Telemetry] = {}
        self._queue: collections.deque[tuple[str, float, float]] = collections.deque(
            maxlen=max_queue
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> TelemetrySampler:
        if self._thread is not None:
            return self
        self._t0 = time.monotonic()
        self.sample()  # one reading at once, so `latest()` is never empty once started
        self._thread = threading.Thread(target=self._loop, name="hal-telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(2.0, self.interval_s * 4))
            self._thread = None
        self.flush()

    def __enter__(self) -> TelemetrySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        # Event.wait sleeps without spinning; sampling drift does not accumulate.
        next_at = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.sample()
            next_at += self.interval_s
            if next_at < time.monotonic():  # fell behind (a slow driver): skip, don't burst
                next_at = time.monotonic() + self.interval_s

    # -- sampling -----------------------------------------------------------------------

    def sample(self) -> dict[str, Telemetry]:
        step = round(time.monotonic() - self._t0, 3)  # seconds since start: one x-axis for all
        readings: dict[str, Telemetry] = {}
        for device in self.devices:
            try:
                reading = device.telemetry()
            except Exception as exc:  # a driver hiccup must not kill the thread
                log.debug("telemetry of %s failed: %s", device.key, exc)
                continue
            readings[device.key] = reading
            for field_name, value in reading.reported().items():
                self._emit(metric_name(device.key, field_name), float(value), step)
        self._latest.update(readings)  # dict.update of refs: atomic under the GIL
        self.samples += 1
        return readings

    def _emit(self, name: str, value: float, step: float) -> None:
        if self.sink is None:
            return
        if self.deliver == "thread":
            try:
                self.sink(name, value, step)
            except Exception as exc:
                log.debug("telemetry sink failed: %s", exc)
        else:
            self._queue.append((name, value, step))

    def flush(self) -> int:
        """Deliver queued points (manual mode) on the caller's thread; returns how many."""
        delivered = 0
        while self._queue and self.sink is not None:
            name, value, step = self._queue.popleft()
            self.sink(name, value, step)
            delivered += 1
        return delivered

    def latest(self, key: str | None = None) -> Telemetry | None:
        """The last reading of a device (the first device when key is None), without I/O."""
        if key is None:
            key = self.devices[0].key if self.devices else ""
        return self._latest.get(key)

    def latest_all(self) -> dict[str, Telemetry]:
        return dict(self._latest)
