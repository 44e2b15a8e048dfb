"""What a running lab sees: the RunContext protocol.

The labs platform implements it on the worker (events stored in order and
streamed to the browser); `portal.labs.testing.RecordingContext` implements it
in memory for unit tests of a lab's run function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


class RunCancelled(Exception):
    """Raised by a lab (or ctx.check_cancelled()) to stop cooperatively."""


@runtime_checkable
class RunContext(Protocol):
    run_id: int | None
    # torch device string the run should use: "cpu", "cuda", "cuda:1", ...
    device: str
    # A private scratch directory for the run (files, TensorBoard logs, ...).
    workdir: Path

    def log(self, text: str) -> None:
        """A line of the run's log."""

    def progress(self, fraction: float, note: str = "") -> None:
        """Overall progress in [0, 1] with a short note."""

    def metric(self, name: str, value: float, step: float | None = None) -> None:
        """One point of a named series (charted live); step defaults to a per-name counter."""

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """A named table (replaces an earlier table of the same name)."""

    def artifact(self, name: str, data: bytes | Path) -> None:
        """A downloadable file: raw bytes or a path to copy."""

    def result(self, data: dict[str, Any]) -> None:
        """The final result (JSON-serialisable); the last call wins."""

    def cancelled(self) -> bool:
        """True once the owner asked to cancel; check it between steps."""

    def check_cancelled(self) -> None:
        """Raise RunCancelled if cancelled() is true."""
