from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
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


class SubmissionQuerySet(models.QuerySet["Submission"]):
    def owned_by(self, user: Any) -> SubmissionQuerySet:
        """A learner's own submissions; nobody else's, even for staff (code stays private)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)

    def for_review(self, user: Any) -> SubmissionQuerySet:
        """Flagged submissions (and those already reviewed), for staff only: a reviewer reads
        the code of a submission the grader flagged, and nothing else of anyone's."""
        if not (getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False)):
            return self.none()
        return self.filter(models.Q(flagged=True) | ~models.Q(review=""))

    def passing(self) -> SubmissionQuerySet:
        return self.filter(verdict=Submission.PASSED, score_ms__isnull=False)

    def board(self, *, problem: str, device: str, dtype: str) -> SubmissionQuerySet:
        """Each user's best ranked submission for one problem x device x dtype, fastest first.

        Flagged submissions wait for review and are not ranked."""
        return (
            self.passing()
            .filter(problem=problem, device=device, dtype=dtype, flagged=False)
            .order_by("owner_id", "score_ms", "created_at", "id")
            .distinct("owner_id")
        )


class Submission(models.Model):
    """A learner's own kernel for a graded problem; graded by a run of the `kernel-submission` lab."""

    PASSED = "passed"

    class Problem(models.TextChoices):
        VECTOR_ADD = "vector_add", _("Vector add")
        SOFTMAX = "softmax", _("Fused softmax")
        LAYER_NORM = "layer_norm", _("Layer norm")
        MATMUL = "matmul", _("Matmul")
        ATTENTION = "attention", _("Attention forward")

    class Dtype(models.TextChoices):
        FLOAT32 = "float32", "float32"
        FLOAT16 = "float16", "float16"
        BFLOAT16 = "bfloat16", "bfloat16"

    class Review(models.TextChoices):
        NONE = "", _("not reviewed")
        ACCEPTED = "accepted", _("accepted")
        REJECTED = "rejected", _("rejected")

    class Language(models.TextChoices):
        PYTORCH = "pytorch", "PyTorch"
        TRITON = "triton", "Triton"
        CPP = "cpp", _("C++/CUDA (load_inline)")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kernel_submissions"
    )
    problem = models.CharField(max_length=16, choices=Problem.choices)
    dtype = models.CharField(max_length=10, choices=Dtype.choices)
    language = models.CharField(max_length=10, choices=Language.choices)
    source = models.TextField()
    run = models.ForeignKey(
        "labs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "" while queued/grading; then "passed", "failed: <stage>" or "refused: <reason>".
    verdict = models.CharField(max_length=80, blank=True)
    # Geometric mean of per-shape medians (ms); None unless timed and passed.
    score_ms = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=120, blank=True)
    # More than 10x faster than the best reference: not ranked until staff accept it.
    flagged = models.BooleanField(default=False)
    review = models.CharField(max_length=10, choices=Review.choices, blank=True, default="")
    review_note = models.CharField(max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    graded_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "My submissions", newest first.
            models.Index(fields=["owner", "-created_at"], name="kernels_sub_owner_idx"),
            # The leaderboard: passing rows of one problem x device x dtype by score.
            models.Index(
                fields=["problem", "device", "dtype", "score_ms"],
                name="kernels_sub_board_idx",
                condition=models.Q(verdict="passed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.problem}/{self.dtype}/{self.language} by {self.owner_id}: {self.verdict}"

    @property
    def passed(self) -> bool:
        return self.verdict == self.PASSED
