"""Runs of labs and the ordered events they stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.labs.querysets import RunEventQuerySet, RunQuerySet
from portal.labs.registry import Lab, LabResult, get_lab


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    LOST = "lost", _("Lost")

    @classmethod
    def active_values(cls) -> list[str]:
        return [cls.QUEUED, cls.RUNNING]

    @property
    def is_finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def badge(self) -> str:
        """CSS badge class for the status."""
        return {
            RunStatus.SUCCEEDED: "ok",
            RunStatus.RUNNING: "warn",
            RunStatus.QUEUED: "",
            RunStatus.CANCELLED: "warn",
        }.get(self, "bad")


class EventKind(models.TextChoices):
    LOG = "log"
    PROGRESS = "progress"
    METRIC = "metric"
    TABLE = "table"
    ARTIFACT = "artifact"
    RESULT = "result"
    STATUS = "status"


class Run(models.Model):
    """One execution of a lab for one user."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_runs"
    )
    lab_id = models.CharField(_("lab"), max_length=100)
    params = models.JSONField(_("parameters"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    queue = models.CharField(max_length=100)
    task_id = models.CharField(max_length=64, blank=True)
    time_limit_s = models.PositiveIntegerField()
    soft_time_limit_s = models.PositiveIntegerField()
    # hostname, CPU model, torch device; from the HAL: device_key, identity, peaks of the
    # device it ran on, and the host's accelerators (runner.describe_device)
    worker = models.CharField(max_length=255, blank=True)
    device = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0)
    progress_note = models.CharField(max_length=255, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The highest sequence number handed out; rows in RunEvent use 1..last_seq.
    last_seq = models.PositiveBigIntegerField(default=0)
    # Set by staff only: other users may use what the run serves (an llm-deploy server
    # answering their questions); otherwise only its owner's requests reach it.
    shared = models.BooleanField(_("shared"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the run list and compare picker: one user's runs, newest first, by lab
            models.Index(fields=["owner", "lab_id", "-created_at"], name="labs_run_owner_lab"),
            # the reaper and the concurrency limit: runs still queued or running
            models.Index(
                fields=["status", "heartbeat_at"],
                name="labs_run_active",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lab_id} #{self.pk} ({self.status})"

    @property
    def lab(self) -> Lab | None:
        return get_lab(self.lab_id)

    @property
    def typed_result(self) -> LabResult | None:
        """The stored result parsed by its lab's `Result` model (None without a result or
        when the lab is not installed here). Raises pydantic.ValidationError for a result
        that is not of that shape."""
        lab = self.lab
        if lab is None or not self.result:
            return None
        return lab.result.of(self)

    @property
    def status_enum(self) -> RunStatus:
        return RunStatus(self.status)

    @property
    def is_finished(self) -> bool:
        return self.status_enum.is_finished

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def artifact_dir(self) -> Path:
        return Path(settings.MEDIA_ROOT) / "labs" / "runs" / str(self.pk)

    def group_name(self) -> str:
        return run_group(self.pk)

    def snapshot(self) -> dict[str, Any]:
        """The run's state as sent in status events and returned by the API."""
        return {
            "id": self.pk,
            "lab": self.lab_id,
            "status": self.status,
            "progress": self.progress,
            "progress_note": self.progress_note,
            "worker": self.worker,
            "device": self.device,
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def run_group(run_id: int) -> str:
    """The Channels group that carries one run's events."""
    return f"labs.run.{run_id}"


class RunEvent(models.Model):
    """One thing a run reported, in order: seq is 1, 2, 3, ... per run with no gaps."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    ts = models.DateTimeField()
    data = models.JSONField(default=dict)

    objects = RunEventQuerySet.as_manager()

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            # also the index behind "events of run R after seq N" (replay and the API)
            models.UniqueConstraint(fields=["run", "seq"], name="labs_runevent_run_seq"),
        ]
        indexes = [
            # the run page: latest table / log lines of one kind
            models.Index(fields=["run", "kind", "seq"], name="labs_runevent_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.seq} {self.kind}"

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "ts": self.ts.isoformat(), "data": self.data}


class RunArtifact(models.Model):
    """A file a run produced, stored under MEDIA_ROOT/labs/runs/<id>/."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="labs_artifact_run_name"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.name}"

    def file_path(self) -> Path:
        """Where the file is now: under the run's directory (so a restored or moved data dir
        works), else where the runner recorded it."""
        canonical = self.run.artifact_dir() / self.name
        return canonical if canonical.is_file() else Path(self.path)
