"""The 16-week plan (content loaded from YAML) and each person's progress through it.

Content rows are keyed by stable slugs so `loadcurriculum` can update text in
place; rows dropped from the YAML are archived, never deleted, so nobody's
progress disappears with them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.curriculum.querysets import (
    ItemProgressQuerySet,
    ItemQuerySet,
    WeeklyReviewQuerySet,
    WeekQuerySet,
)

WEEKS = 16


class HourCategory(models.TextChoices):
    """How study time is split; the plan's shares are part of the category."""

    THEORY = "theory", _("Theory")
    PRACTICE = "practice", _("Practice")
    PAPERS = "papers", _("Papers")
    DEMO = "demo", _("Demo")

    @property
    def planned_share(self) -> int:
        """Percent of study time the overview plans for this category (30/40/15/15)."""
        return {"theory": 30, "practice": 40, "papers": 15, "demo": 15}[self.value]

    @property
    def label_zh(self) -> str:
        return {
            "theory": "理论学习",
            "practice": "实践项目",
            "papers": "论文阅读",
            "demo": "Demo开发",
        }[self.value]


class ItemKind(models.TextChoices):
    TASK = "task", _("Week task")
    SKILL = "skill", _("Technical skill goal")
    OUTPUT = "output", _("Project output goal")


class GuideSection(models.TextChoices):
    TIME_SPLIT = "time_split", _("Time split")
    FAQ = "faq", _("FAQ")
    COMMUNITY = "community", _("Communities")
    BLOG = "blog", _("Blogs")
    OPEN_SOURCE = "open_source", _("Open-source projects")
    DATASET = "dataset", _("Datasets")
    RESEARCH = "research", _("Research labs and paper search")
    USAGE = "usage", _("How to use this plan")
    OUTCOME = "outcome", _("Where you will be after 16 weeks")
    MAINTENANCE = "maintenance", _("About this plan")


class Phase(models.Model):
    slug = models.SlugField(unique=True)
    number = models.PositiveSmallIntegerField(unique=True)
    title = models.CharField(max_length=100)
    focus = models.CharField(max_length=200)
    project = models.CharField(max_length=200)
    milestone = models.CharField(max_length=200)
    kaggle = models.TextField(blank=True)
    # The plan's 16周实践计划 row: its short Kaggle activity and practice project.
    kaggle_activity = models.CharField(max_length=200, blank=True)
    practice = models.CharField(max_length=200, blank=True)
    output = models.CharField(max_length=200, blank=True)
    summary = models.TextField(blank=True)
    first_week = models.PositiveSmallIntegerField()
    last_week = models.PositiveSmallIntegerField()
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class Week(models.Model):
    number = models.PositiveSmallIntegerField(unique=True)
    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="weeks")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    goals = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    # [{"title", "url", "kind", "note"}]
    resources = models.JSONField(default=list, blank=True)
    # {"title", "description", "deliverables": [...], "lab": lab id or "",
    #  "demo": null or {"number", "title", "stars", "project"}}
    project = models.JSONField(default=dict, blank=True)
    kaggle = models.TextField(blank=True)
    # [{"arxiv_id", "title", "why"}]
    readings = models.JSONField(default=list, blank=True)
    labs = models.JSONField(default=list, blank=True)
    archived = models.BooleanField(default=False)

    objects = WeekQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=WEEKS), name="week_number_1_16"
            )
        ]

    def __str__(self) -> str:
        return f"第{self.number}周 {self.title}"

    @property
    def demo_label(self) -> str:
        """The plan's heading for a demo week's project, with its importance stars."""
        demo = (self.project or {}).get("demo")
        if not demo:
            return ""
        return f"Demo {demo['number']}: {demo['title']} {'⭐' * demo['stars']}"


class Item(models.Model):
    """Something a person ticks: a week task or a core goal."""

    slug = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    week = models.ForeignKey(
        Week, on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    # "Day 1-2", "周三", or the goal group "编程语言".
    group = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    category = models.CharField(
        max_length=10, choices=HourCategory.choices, default=HourCategory.PRACTICE
    )
    order = models.PositiveIntegerField(default=0)
    labs = models.JSONField(default=list, blank=True)
    papers = models.JSONField(default=list, blank=True)
    # Slugs of the skill goals this task is evidence for.
    skills = models.JSONField(default=list, blank=True)
    archived = models.BooleanField(default=False)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "week__number", "order", "id"]
        indexes = [
            # The checklist and progress reads: active items of one kind, in plan order.
            models.Index(fields=["archived", "kind", "order"], name="item_active_kind_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class ItemProgress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="curriculum_progress"
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="progress")
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ItemProgressQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="one_progress_per_user_item")
        ]
        indexes = [
            # Dashboard counts and streak: one user's done ticks.
            models.Index(fields=["user", "done", "done_at"], name="progress_user_done_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {'✓' if self.done else '·'} {self.item}"


class StudyPlan(models.Model):
    """A person's own run through the plan: when their week 1 starts."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_plan"
    )
    start_date = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} from {self.start_date}"


class WeeklyReview(models.Model):
    """每周复盘: one per user per week, editable."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_reviews"
    )
    week = models.PositiveSmallIntegerField()
    completed = models.JSONField(default=list, blank=True)
    # [{"problem": str, "solution": str}]
    problems = models.JSONField(default=list, blank=True)
    next_plan = models.JSONField(default=list, blank=True)
    hours_theory = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal(0))
    hours_practice = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal(0))
    hours_papers = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal(0))
    hours_demo = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal(0))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = WeeklyReviewQuerySet.as_manager()

    class Meta:
        ordering = ["week"]
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="one_review_per_user_week"),
            models.CheckConstraint(
                condition=Q(week__gte=1) & Q(week__lte=WEEKS), name="review_week_1_16"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} 第{self.week}周复盘"

    @property
    def hours(self) -> dict[str, float]:
        return {c.value: float(getattr(self, f"hours_{c.value}")) for c in HourCategory}

    @property
    def total_hours(self) -> float:
        return sum(self.hours.values())


class GuideEntry(models.Model):
    """The overview's supporting material: time split, FAQ, communities, blogs, references."""

    slug = models.SlugField(max_length=120, unique=True)
    section = models.CharField(max_length=20, choices=GuideSection.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.URLField(blank=True)
    # Section-specific extras: FAQ answers, the share of a time-split category.
    data = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["section", "order", "id"]
        verbose_name_plural = "guide entries"

    def __str__(self) -> str:
        return self.title
