"""Reads for "am I on track": a constant number of queries however much a person has done."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from portal.curriculum.evidence import PAPERS_GOAL, read_arxiv_ids
from portal.curriculum.models import (
    WEEKS,
    HourCategory,
    Item,
    ItemKind,
    ItemProgress,
    StudyPlan,
    WeeklyReview,
)
from portal.curriculum.plan import plan_structure


class TrackStatus:
    NO_START = "no_start_date"
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    FINISHED = "finished"


@dataclass
class Tally:
    number: int
    title: str
    done: int = 0
    total: int = 0

    @property
    def percent(self) -> float:
        return round(100 * self.done / self.total, 1) if self.total else 0.0


@dataclass
class OnTrack:
    status: str
    current_week: int | None
    expected: int | None
    done: int
    behind: int = 0
    ahead: int = 0


@dataclass
class Progress:
    done: int
    total: int
    phases: list[Tally]
    weeks: dict[int, Tally]
    goals: dict[str, Tally]
    on_track: OnTrack
    start_date: dt.date | None
    hours: dict[str, float]
    streak: int
    papers_read: int | None
    papers_goal: int = PAPERS_GOAL
    daily_ticks: dict[dt.date, int] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return round(100 * self.done / self.total, 1) if self.total else 0.0

    @property
    def hours_total(self) -> float:
        return round(sum(self.hours.values()), 1)

    @property
    def hours_share(self) -> dict[str, float]:
        total = self.hours_total
        return {k: round(100 * v / total, 1) if total else 0.0 for k, v in self.hours.items()}

    def as_api(self) -> dict[str, Any]:
        def tally(t: Tally) -> dict[str, Any]:
            return {
                "number": t.number,
                "title": t.title,
                "done": t.done,
                "total": t.total,
                "percent": t.percent,
            }

        return {
            "percent": self.percent,
            "done": self.done,
            "total": self.total,
            "phases": [tally(p) for p in self.phases],
            "goals": {k: tally(v) for k, v in self.goals.items()},
            "on_track": self.on_track.__dict__,
            "hours": self.hours,
            "streak": self.streak,
            "papers_read": self.papers_read,
            "papers_goal": self.papers_goal,
        }


def current_week(start: dt.date | None, today: dt.date) -> int | None:
    """1-16 inside the plan, 0 before it starts, 17 after it ends, None without a start."""
    if start is None:
        return None
    days = (today - start).days
    if days < 0:
        return 0
    return min(days // 7 + 1, WEEKS + 1)


def week_start(start: dt.date, week: int) -> dt.date:
    return start + dt.timedelta(days=7 * (week - 1))


def _on_track(
    start: dt.date | None, today: dt.date, week_totals: dict[int, int], done: int
) -> OnTrack:
    week = current_week(start, today)
    if start is None or week is None:
        return OnTrack(TrackStatus.NO_START, None, None, done)
    if week == 0:
        return OnTrack(TrackStatus.NOT_STARTED, 0, 0, done, ahead=done)
    expected = sum(n for w, n in week_totals.items() if w < week)
    if week <= WEEKS:
        # Within the current week the tasks fall due evenly, day by day (today included).
        day = (today - week_start(start, week)).days + 1
        expected += math.ceil(week_totals.get(week, 0) * day / 7)
    behind = max(0, expected - done)
    ahead = max(0, done - expected)
    if week > WEEKS:
        status = TrackStatus.FINISHED if behind == 0 else TrackStatus.BEHIND
    else:
        status = TrackStatus.ON_TRACK if behind == 0 else TrackStatus.BEHIND
    return OnTrack(status, min(week, WEEKS), expected, done, behind, ahead)


def _streak(days: set[dt.date], today: dt.date) -> int:
    """Consecutive active days ending today, or yesterday if today has nothing yet."""
    day = today if today in days else today - dt.timedelta(days=1)
    streak = 0
    while day in days:
        streak += 1
        day -= dt.timedelta(days=1)
    return streak


def compute_progress(user: Any, today: dt.date | None = None) -> Progress:
    """Everything the dashboard needs; six queries plus the paper tracker's, always."""
    today = today or timezone.localdate()
    plan = StudyPlan.objects.filter(user=user).first()
    start = plan.start_date if plan else None

    # The plan's shape is shared (cached per process); only this person's ticks are queried.
    structure = plan_structure()
    phases = {p.number: Tally(p.number, p.title) for p in structure.phases}
    weeks: dict[int, Tally] = {}
    goals = {
        ItemKind.SKILL.value: Tally(0, str(ItemKind.SKILL.label)),
        ItemKind.OUTPUT.value: Tally(0, str(ItemKind.OUTPUT.label)),
    }
    done_rows = (
        ItemProgress.objects.filter(user=user, done=True, item__archived=False)
        .values("item__kind", "item__week__number")
        .annotate(n=Count("id"))
        .order_by()
    )
    done = {(r["item__kind"], r["item__week__number"]): r["n"] for r in done_rows}
    for row in structure.item_totals:
        ticked = done.get((row["kind"], row["week__number"]), 0)
        if row["kind"] == ItemKind.TASK:
            number = row["week__number"]
            week = weeks.setdefault(number, Tally(number, f"第{number}周"))
            week.total += row["total"]
            week.done += ticked
            phase = phases.setdefault(
                row["week__phase__number"],
                Tally(row["week__phase__number"], row["week__phase__title"]),
            )
            phase.total += row["total"]
            phase.done += ticked
        else:
            goals[row["kind"]].total += row["total"]
            goals[row["kind"]].done += ticked

    tasks_done = sum(w.done for w in weeks.values())
    week_totals = {n: w.total for n, w in weeks.items()}

    reviews = list(
        WeeklyReview.objects.filter(user=user).only(
            *(f"hours_{c.value}" for c in HourCategory), "updated_at"
        )
    )
    hours = {
        c.value: round(sum(float(getattr(r, f"hours_{c.value}")) for r in reviews), 1)
        for c in HourCategory
    }
    daily = {
        row["day"]: row["n"]
        for row in ItemProgress.objects.for_user(user)
        .done()
        .filter(done_at__isnull=False)
        .annotate(day=TruncDate("done_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    }
    active_days = set(daily) | {timezone.localdate(r.updated_at) for r in reviews}
    read = read_arxiv_ids(user)

    done_all = tasks_done + sum(g.done for g in goals.values())
    total_all = sum(w.total for w in weeks.values()) + sum(g.total for g in goals.values())
    return Progress(
        done=done_all,
        total=total_all,
        phases=[phases[n] for n in sorted(phases)],
        weeks=dict(sorted(weeks.items())),
        goals=goals,
        on_track=_on_track(start, today, week_totals, tasks_done),
        start_date=start,
        hours=hours,
        streak=_streak(active_days, today),
        papers_read=None if read is None else len(read),
        daily_ticks=daily,
    )


def start_date_for(user: Any) -> dt.date | None:
    return StudyPlan.objects.filter(user=user).values_list("start_date", flat=True).first()


def checklist(user: Any, *, kind: str | None = None, week: int | None = None) -> Any:
    """Active items with the user's `is_done` / `done_time`, in plan order."""
    items = Item.objects.active().with_done(user).select_related("week").in_plan_order()
    if kind is not None:
        items = items.filter(kind=kind)
    if week is not None:
        items = items.filter(week__number=week)
    return items


def weeks_for_api(user: Any, today: dt.date | None = None) -> list[dict[str, Any]]:
    from portal.curriculum.models import Week

    start = start_date_for(user)
    now = current_week(start, today or timezone.localdate())
    return [
        {
            "number": w.number,
            "phase": w.phase.number,
            "phase_title": w.phase.title,
            "title": w.title,
            "goals": w.goals,
            "topics": w.topics,
            "project": w.project.get("title", ""),
            "readings": [{"arxiv_id": r["arxiv_id"], "title": r["title"]} for r in w.readings],
            "start_date": week_start(start, w.number) if start else None,
            "current": now == w.number,
        }
        for w in Week.objects.active().select_related("phase")
    ]
