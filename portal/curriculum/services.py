"""Writes: loading the plan, ticking items, start dates and weekly reviews."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from portal.curriculum.content import Content
from portal.curriculum.models import (
    GuideEntry,
    HourCategory,
    Item,
    ItemKind,
    ItemProgress,
    Phase,
    StudyPlan,
    Week,
    WeeklyReview,
)
from portal.curriculum.schemas import ReviewIn
from portal.curriculum.signals import content_loaded


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    archived: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for name in ("phase", "week", "item", "guide"):
            parts.append(
                f"{name}s: {self.created.get(name, 0)} new, {self.updated.get(name, 0)} updated, "
                f"{self.archived.get(name, 0)} archived"
            )
        return "; ".join(parts)


def _sync(
    report: LoadReport,
    name: str,
    model: type[models.Model],
    key: str,
    rows: list[dict[str, Any]],
) -> dict[Any, models.Model]:
    """Upsert `rows` keyed by `key`, archive rows not listed; only changed rows are written."""
    existing = {getattr(obj, key): obj for obj in model.objects.all()}
    fields = [f for f in (rows[0] if rows else {}) if f != key] + ["archived"]
    to_create, to_update = [], []
    for row in rows:
        row = {**row, "archived": False}
        obj = existing.get(row[key])
        if obj is None:
            to_create.append(model(**row))
            continue
        changed = False
        for attr, value in row.items():
            current = getattr(obj, model._meta.get_field(attr).attname)
            wanted = value.pk if isinstance(value, models.Model) else value
            if current != wanted:
                setattr(obj, attr, value)
                changed = True
        if changed:
            to_update.append(obj)
    listed = {row[key] for row in rows}
    to_archive = [obj for k, obj in existing.items() if k not in listed and not obj.archived]
    for obj in to_archive:
        obj.archived = True
    model.objects.bulk_create(to_create)
    if to_update:
        model.objects.bulk_update(to_update, fields)
    if to_archive:
        model.objects.bulk_update(to_archive, ["archived"])
    report.created[name] = len(to_create)
    report.updated[name] = len(to_update)
    report.archived[name] = len(to_archive)
    return {getattr(obj, key): obj for obj in model.objects.all()}


@transaction.atomic
def load_content(*, content: Content) -> LoadReport:
    """Make the database match the content files.

    Keyed by slugs (weeks by number): edits update text in place, rows that
    left the files are archived so progress and reviews pointing at them stay.
    """
    report = LoadReport()
    phases = _sync(
        report,
        "phase",
        Phase,
        "slug",
        [
            {
                "slug": f.phase.slug,
                "number": f.phase.number,
                "title": f.phase.title,
                "focus": f.phase.focus,
                "project": f.phase.project,
                "milestone": f.phase.milestone,
                "kaggle": f.phase.kaggle,
                "kaggle_activity": f.phase.kaggle_activity,
                "practice": f.phase.practice,
                "output": f.phase.output,
                "summary": f.phase.summary,
                "first_week": f.phase.weeks[0],
                "last_week": f.phase.weeks[1],
            }
            for f in content.phases
        ],
    )
    weeks = _sync(
        report,
        "week",
        Week,
        "number",
        [
            {
                "number": w.number,
                "phase": phases[f.phase.slug],
                "title": w.title,
                "summary": w.summary,
                "goals": list(w.goals),
                "topics": list(w.topics),
                "resources": [r.model_dump(mode="json") for r in w.resources],
                "project": w.project.model_dump(mode="json"),
                "kaggle": w.kaggle,
                "readings": [r.model_dump(mode="json") for r in w.readings],
                "labs": list(w.labs),
            }
            for f in content.phases
            for w in f.weeks
        ],
    )
    items: list[dict[str, Any]] = []
    for f in content.phases:
        for w in f.weeks:
            for order, t in enumerate(w.tasks):
                items.append(
                    {
                        "slug": t.slug,
                        "kind": ItemKind.TASK.value,
                        "week": weeks[w.number],
                        "group": t.group,
                        "title": t.title,
                        "detail": t.detail,
                        "category": HourCategory(t.category).value,
                        "order": order,
                        "labs": list(t.labs),
                        "papers": list(t.papers),
                        "skills": list(t.skills),
                    }
                )
    for kind, groups in (
        (ItemKind.SKILL, content.goals.skill),
        (ItemKind.OUTPUT, content.goals.output),
    ):
        order = 0
        for grp in groups:
            for g in grp.items:
                items.append(
                    {
                        "slug": g.slug,
                        "kind": kind.value,
                        "week": None,
                        "group": grp.group,
                        "title": g.title,
                        "detail": g.detail,
                        "category": HourCategory.PRACTICE.value,
                        "order": order,
                        "labs": list(g.labs),
                        "papers": list(g.papers),
                        "skills": [],
                    }
                )
                order += 1
    _sync(report, "item", Item, "slug", items)
    guide: list[dict[str, Any]] = []
    for section, entries in content.guide.sections.items():
        for order, e in enumerate(entries):
            guide.append(
                {
                    "slug": e.slug,
                    "section": section.value,
                    "title": e.title,
                    "body": e.body,
                    "url": str(e.url) if e.url else "",
                    "data": dict(e.data),
                    "order": order,
                }
            )
    _sync(report, "guide", GuideEntry, "slug", guide)
    content_loaded.send(sender=Content, content=content)
    return report


def set_start_date(*, user: Any, start_date: dt.date) -> StudyPlan:
    plan, _ = StudyPlan.objects.update_or_create(user=user, defaults={"start_date": start_date})
    return plan


@transaction.atomic
def set_item_done(*, user: Any, item: Item, done: bool) -> ItemProgress:
    """Tick or untick; the first tick's time is kept while the item stays done."""
    now = timezone.now()
    progress, created = ItemProgress.objects.select_for_update().get_or_create(
        user=user,
        item=item,
        defaults={"done": done, "done_at": now if done else None, "updated_at": now},
    )
    if not created and progress.done != done:
        progress.done = done
        progress.done_at = now if done else None
        progress.updated_at = now
        progress.save(update_fields=["done", "done_at", "updated_at"])
    return progress


def save_review(*, user: Any, week: int, review: ReviewIn) -> tuple[WeeklyReview, bool]:
    """Create or replace the user's review of `week`; returns (review, created)."""
    now = timezone.now()
    values = {
        "completed": list(review.completed),
        "problems": [p.model_dump() for p in review.problems],
        "next_plan": list(review.next_plan),
        "updated_at": now,
        **{f"hours_{c.value}": Decimal(str(getattr(review.hours, c.value))) for c in HourCategory},
    }
    return WeeklyReview.objects.update_or_create(
        user=user, week=week, defaults=values, create_defaults={**values, "created_at": now}
    )
