from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.labs.hal.types import PeakFigures

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class MeasuredPeakQuerySet(models.QuerySet["MeasuredPeak"]):
    def for_model(self, model: str) -> MeasuredPeakQuerySet:
        return self.filter(model=model).order_by("-measured_at", "-id")

    def shared(self) -> MeasuredPeakQuerySet:
        """The measurements behind everyone's pages and rooflines (set by staff only)."""
        return self.filter(shared=True)

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> MeasuredPeakQuerySet:
        """The shared measurements and the user's own; staff see all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(models.Q(shared=True) | models.Q(owner=user))


class MeasuredPeak(models.Model):
    """Peak figures a benchmark measured for a chip model; the newest one wins over the table."""

    model = models.CharField(_("chip model"), max_length=200)
    device_key = models.CharField(_("device key"), max_length=64)
    hostname = models.CharField(_("host"), max_length=200, blank=True)
    fp32_tflops = models.FloatField(null=True, blank=True)
    fp16_tflops = models.FloatField(null=True, blank=True)
    bf16_tflops = models.FloatField(null=True, blank=True)
    int8_tops = models.FloatField(null=True, blank=True)
    memory_bandwidth_gbps = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # Who measured it (None: recorded through the staff API or a command). Only a shared
    # row changes the chip's peaks for everyone; an ordinary user's run keeps its own.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="measured_peaks",
    )
    shared = models.BooleanField(_("shared"), default=False)
    measured_at = models.DateTimeField(auto_now_add=True)

    objects = MeasuredPeakQuerySet.as_manager()

    class Meta:
        indexes = [
            # Accelerator.peaks(): the newest measurement of one chip model.
            models.Index(fields=["model", "-measured_at"], name="hal_peak_model_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.model} @ {self.measured_at:%Y-%m-%d}"

    def as_figures(self) -> PeakFigures:
        return PeakFigures(
            fp32_tflops=self.fp32_tflops,
            fp16_tflops=self.fp16_tflops,
            bf16_tflops=self.bf16_tflops,
            int8_tops=self.int8_tops,
            memory_bandwidth_gbps=self.memory_bandwidth_gbps,
            source="measured",
            note=self.note or f"measured on {self.hostname} ({self.device_key})",
        )


class WorkerHostQuerySet(models.QuerySet["WorkerHost"]):
    def recent(self) -> WorkerHostQuerySet:
        return self.order_by("-seen_at", "hostname")


class WorkerHost(models.Model):
    """A Celery worker and the devices it reported when it started."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    devices = models.JSONField(default=list)  # [Accelerator.describe(with_telemetry=False)]
    unavailable = models.JSONField(default=dict)  # adapter -> reason
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    objects = WorkerHostQuerySet.as_manager()

    def __str__(self) -> str:
        return self.hostname

    def device_keys(self) -> list[str]:
        return [d["identity"]["key"] for d in self.devices]

    def summary(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "queues": self.queues,
            "devices": self.devices,
            "unavailable": self.unavailable,
            "started_at": self.started_at.isoformat(),
            "seen_at": self.seen_at.isoformat(),
        }
