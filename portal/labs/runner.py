"""Running one lab on a worker: the RunContext that stores and streams its events."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback as tb
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import close_old_connections, connection
from django.utils import timezone

from portal.labs import services
from portal.labs.conf import setting_float, setting_int
from portal.labs.context import RunCancelled
from portal.labs.hal.host import cpu_model
from portal.labs.models import EventKind, Run, RunArtifact, RunStatus
from portal.labs.registry import DeviceClass, Lab
from portal.labs.services import NewEvent

logger = logging.getLogger(__name__)


class TooManyEvents(RuntimeError):
    """The run reported more events than LABS_MAX_EVENTS_PER_RUN allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The run reported more than {limit:,} events, the limit per run "
            "(LABS_MAX_EVENTS_PER_RUN), and was stopped. Report fewer points, "
            "e.g. a metric every Nth step."
        )


class WorkerRunContext:
    """RunContext on a Celery worker.

    Events are buffered and stored in batches by a background thread (one
    transaction per batch, at most every LABS_FLUSH_INTERVAL_S), which also
    refreshes the run's heartbeat and polls for a cancel request every
    LABS_HEARTBEAT_S.
    """

    def __init__(self, run: Run, *, device: str, workdir: Path) -> None:
        self.run_id: int | None = run.pk
        self.device = device
        self.workdir = workdir
        self._run = run
        self._steps: dict[str, int] = {}
        self._buffer: list[NewEvent] = []
        self._progress: tuple[float, str] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel_at: float | None = None
        self._final: dict[str, Any] | None = None
        self._flush_error: BaseException | None = None
        self._batch = setting_int("LABS_EVENT_BATCH")
        self.max_events = setting_int("LABS_MAX_EVENTS_PER_RUN")
        self._emitted = run.last_seq  # events stored before this attempt count too
        self.over_limit = False
        self._thread = threading.Thread(target=self._loop, name=f"run-{run.pk}-events", daemon=True)
        self._thread.start()

    # --- the RunContext protocol -----------------------------------------------------------

    def log(self, text: str) -> None:
        self._emit(EventKind.LOG, {"text": str(text)})

    def progress(self, fraction: float, note: str = "") -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress {fraction} outside [0, 1]")
        with self._lock:
            self._progress = (float(fraction), str(note)[:255])
        self._emit(EventKind.PROGRESS, {"fraction": float(fraction), "note": str(note)})

    def metric(self, name: str, value: float, step: float | None = None) -> None:
        if step is None:
            with self._lock:
                step = self._steps.get(name, 0)
                self._steps[name] = int(step) + 1
        self._emit(EventKind.METRIC, {"name": str(name), "value": float(value), "step": step})

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        self._emit(EventKind.TABLE, {"name": str(name), "rows": rows})

    def artifact(self, name: str, data: bytes | Path) -> None:
        safe = Path(name).name
        if not safe or safe in {".", ".."}:
            raise ValueError(f"bad artifact name {name!r}")
        target_dir = self._run.artifact_dir()
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / safe
        if isinstance(data, bytes | bytearray):
            target.write_bytes(data)
        else:
            shutil.copyfile(Path(data), target)
        size = target.stat().st_size
        RunArtifact.objects.update_or_create(
            run=self._run, name=safe, defaults={"path": str(target), "size": size}
        )
        self._emit(EventKind.ARTIFACT, {"name": safe, "size": size})

    def result(self, data: dict[str, Any]) -> None:
        json.dumps(data)
        self._final = data

    def cancelled(self) -> bool:
        return self._cancel_at is not None

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise RunCancelled()

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def final(self) -> dict[str, Any] | None:
        return self._final

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._cancel_at is not None and (
            time.monotonic() - self._cancel_at > setting_float("LABS_CANCEL_GRACE_S")
        ):
            # the lab ignored cancelled(); stop it at its next report
            raise RunCancelled()
        if self._flush_error is not None:
            raise RuntimeError("storing run events failed") from self._flush_error
        json.dumps(data)  # fail in the lab's frame, not in the flusher
        with self._lock:
            # sticky: a lab that swallows the exception is refused again at its next report
            self.over_limit = self.over_limit or self._emitted >= self.max_events
            if not self.over_limit:
                self._emitted += 1
                self._buffer.append(NewEvent(kind, data, timezone.now()))
            full = len(self._buffer) >= self._batch
        if self.over_limit:
            raise TooManyEvents(self.max_events)
        if full:
            self._wake.set()

    def _loop(self) -> None:
        interval = setting_float("LABS_FLUSH_INTERVAL_S")
        heartbeat = setting_float("LABS_HEARTBEAT_S")
        next_beat = 0.0
        try:
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                self.flush()
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + heartbeat
        except BaseException as exc:  # noqa: BLE001 - surfaced to the lab at its next call
            logger.exception("run %s: storing events failed", self.run_id)
            self._flush_error = exc
        finally:
            connection.close()

    def flush(self) -> None:
        while True:
            with self._lock:
                batch, self._buffer = self._buffer[: self._batch], self._buffer[self._batch :]
                progress, self._progress = self._progress, None
            if not batch and progress is None:
                return
            updates: dict[str, Any] = {"heartbeat_at": timezone.now()}
            if progress is not None:
                updates["progress"], updates["progress_note"] = progress
            services.append_events(self._run.pk, batch, run_updates=updates)
            if not self._buffer:
                return

    def _heartbeat(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE labs_run SET heartbeat_at = now() WHERE id = %s "
                "RETURNING cancel_requested_at IS NOT NULL",
                [self._run.pk],
            )
            row = cursor.fetchone()
        if row and row[0] and self._cancel_at is None:
            self._cancel_at = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()


# --- the worker's device ----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _hal_device_info(torch_device: str) -> dict[str, Any]:
    """What the HAL knows of the device this run uses and of the host's other accelerators.

    `device_key`/`identity`/`peaks` describe the accelerator torch drives as
    `torch_device` (the CPU's identity on a CPU worker); `accelerators` lists
    every device the HAL found here, `unavailable` the adapters that found none
    and why. A HAL failure never fails the run: it is recorded as `hal_error`.
    """
    try:
        from portal.labs.hal import device_for_torch, discovery_report

        report = discovery_report()
        info: dict[str, Any] = {
            "accelerators": [_jsonable(d.identity.as_dict()) for d in report.devices],
            "unavailable": dict(report.unavailable),
        }
        device = device_for_torch(torch_device)
        if device is not None:
            info["device_key"] = device.key
            info["device_name"] = device.identity.model
            info["identity"] = _jsonable(device.identity.as_dict())
            info["peaks"] = _jsonable(device.peaks().as_dict())
        return info
    except Exception as exc:  # noqa: BLE001 - a HAL failure must not fail the run
        logger.exception("HAL device lookup failed")
        return {"hal_error": f"{type(exc).__name__}: {exc}"}


def resolve_device(lab: Lab) -> str:
    """The torch device a lab runs on here: CUDA when the lab may use it and it exists."""
    if lab.device == DeviceClass.CPU:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_device(torch_device: str, worker: str) -> dict[str, Any]:
    """The worker and device a run ran on: host facts, then the HAL's identity of the device."""
    import torch

    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "worker": worker,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_device": torch_device,
    }
    if torch_device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name(torch.device(torch_device))
    info.update(_hal_device_info(torch_device))
    return info


# --- one run ------------------------------------------------------------------------------------


def execute_run(run_id: int, *, worker: str) -> str:
    """Run a queued run to its end on this worker. Safe to call twice for one run."""
    close_old_connections()
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    if run.status == RunStatus.RUNNING:
        # redelivered after the worker running it died (acks_late): that attempt is lost
        services._transition(
            run_id,
            from_statuses=[RunStatus.RUNNING],
            to=RunStatus.LOST,
            error=f"The worker {run.worker} died while running it.",
        )
        return "lost"
    if run.status != RunStatus.QUEUED:
        return run.status
    lab = run.lab
    if lab is None:
        services._transition(
            run_id,
            from_statuses=[RunStatus.QUEUED],
            to=RunStatus.FAILED,
            error=f"The lab {run.lab_id!r} is not installed on worker {worker}.",
        )
        return "failed"
    torch_device = resolve_device(lab)
    run = services.start_run(
        run_id=run_id, worker=worker, device=describe_device(torch_device, worker)
    )
    if run is None:
        return "raced"
    workdir = Path(tempfile.mkdtemp(prefix=f"labrun-{run_id}-"))
    ctx = WorkerRunContext(run, device=torch_device, workdir=workdir)
    status, error, trace = RunStatus.SUCCEEDED, "", ""
    try:
        if lab.device == DeviceClass.GPU and torch_device == "cpu":
            ctx.log("No GPU on this worker: running on the CPU instead.")
        params = lab.validate(run.params)
        returned = lab.run(params, ctx)
        if returned is not None:
            ctx.result(returned)
        if ctx.cancelled():
            status, error = RunStatus.CANCELLED, "Cancelled by the owner."
    except RunCancelled:
        status, error = RunStatus.CANCELLED, "Cancelled by the owner."
    except TooManyEvents as exc:
        status, error = RunStatus.FAILED, str(exc)
    except SoftTimeLimitExceeded:
        status = RunStatus.FAILED
        error = f"Time limit exceeded: the run was stopped after {run.soft_time_limit_s} s."
    except Exception as exc:  # noqa: BLE001 - any lab failure is the run's failure
        status, error, trace = RunStatus.FAILED, f"{type(exc).__name__}: {exc}", tb.format_exc()
    if ctx.over_limit and status != RunStatus.FAILED:  # the lab caught TooManyEvents
        status, error, trace = RunStatus.FAILED, str(TooManyEvents(ctx._max_events)), ""
    try:
        ctx.close()
    except SoftTimeLimitExceeded:
        ctx.close()
    shutil.rmtree(workdir, ignore_errors=True)
    services.finish_run(
        run_id=run_id, status=status, result=ctx.final, error=error, traceback=trace
    )
    return status
