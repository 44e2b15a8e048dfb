"""An in-memory RunContext for unit tests of a lab's run function (no worker, no database)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.labs.context import RunCancelled
from portal.labs.registry import get_lab


@dataclass
class RecordingContext:
    device: str = "cpu"
    run_id: int | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lab-")))
    cancel_after_events: int | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    _steps: dict[str, int] = field(default_factory=dict)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        json.dumps(data)  # events must be JSON-serialisable, as on the real platform
        self.events.append((kind, data))

    def log(self, text: str) -> None:
        self._emit("log", {"text": str(text)})

    def progress(self, fraction: float, note: str = "") -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress {fraction} outside [0, 1]")
        self._emit("progress", {"fraction": fraction, "note": note})

    def metric(self, name: str, value: float, step: float | None = None) -> None:
        if step is None:
            step = self._steps.get(name, 0)
            self._steps[name] = int(step) + 1
        self._emit("metric", {"name": name, "value": float(value), "step": step})

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        self._emit("table", {"name": name, "rows": rows})

    def artifact(self, name: str, data: bytes | Path) -> None:
        size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
        self._emit("artifact", {"name": name, "size": size})

    def result(self, data: dict[str, Any]) -> None:
        json.dumps(data)
        self.final = data

    def cancelled(self) -> bool:
        return self.cancel_after_events is not None and len(self.events) >= self.cancel_after_events

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise RunCancelled()

    # helpers for assertions
    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]

    def series(self, name: str) -> list[float]:
        return [d["value"] for d in self.of_kind("metric") if d["name"] == name]


def run_inline(
    lab_id: str, params: dict[str, Any] | None = None, **ctx_kwargs: Any
) -> RecordingContext:
    """Validate `params` against the lab's schema and run it in this process."""
    lab = get_lab(lab_id)
    if lab is None:
        raise LookupError(f"no lab {lab_id!r}")
    ctx = RecordingContext(**ctx_kwargs)
    returned = lab.run(lab.validate(params or {}), ctx)
    if returned is not None:
        ctx.result(returned)
    if ctx.final is not None:
        # as finish_run does on the platform: a result of the wrong shape fails the test
        lab.validate_result(ctx.final)
    return ctx
