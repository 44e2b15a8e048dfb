from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class SweepQuerySet(models.QuerySet["Sweep"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> SweepQuerySet:
        """Sweeps a user may see: those of their own runs, and the bench results an operator
        imported (`loadkernelbench`, shared reference data); staff see every sweep."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(
            models.Q(run__owner=user) | models.Q(run__isnull=True, source=Sweep.Source.BENCH)
        )

    def with_points(self) -> SweepQuerySet:
        return self.filter(measurements__isnull=False).distinct()

    def latest_first(self) -> SweepQuerySet:
        return self.order_by("-started_at", "-id")


class Sweep(models.Model):
    """One run of the kernel suite on one device: its peaks and, below it, its measured points."""

    class Source(models.TextChoices):
        LAB = "lab", _("Lab run")
        BENCH = "bench", _("Imported bench")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LAB)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    # The run that measured it (its owner owns the sweep); none for an imported bench file.
    run = models.ForeignKey(
        "labs.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="sweeps"
    )
    device = models.CharField(max_length=32)
    device_name = models.CharField(max_length=200, blank=True)
    peaks = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = SweepQuerySet.as_manager()

    class Meta:
        indexes = [
            # The page's "latest sweeps" list.
            models.Index(fields=["-started_at", "-id"], name="kernels_sweep_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"Sweep {self.pk} on {self.device_name or self.device}"

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("cuda")


class Measurement(models.Model):
    """One (kernel, implementation, dtype, size) point: correctness, timing and roofline place."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="measurements")
    seq = models.PositiveIntegerField()
    kernel = models.CharField(max_length=32)
    impl = models.CharField(max_length=32)
    dtype = models.CharField(max_length=16)
    n = models.PositiveIntegerField()
    status = models.CharField(max_length=12)
    median_ms = models.FloatField(null=True, blank=True)
    gbs = models.FloatField(null=True, blank=True)
    tflops = models.FloatField(null=True, blank=True)
    intensity = models.FloatField(default=0.0)
    frac_roofline = models.FloatField(null=True, blank=True)
    # The full point as the engine produced it (errors, spread, reps, warnings...).
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["sweep", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "seq"], name="kernels_measurement_seq_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.kernel}/{self.impl}/{self.dtype}/n={self.n}: {self.status}"

    @property
    def point(self) -> dict[str, Any]:
        return self.data
