"""The facts the bot and the digest show, read through the other apps' own querysets
and services so the numbers match the portal's pages: progress, this week, the next
papers, the next open task, ticking a task, the weekly review owed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.knowledge.sources import _lines, _phase_heading

# --- facts for bot commands, the digest and reminders --------------------------------------


def plan_week(user: Any, today: dt.date | None = None) -> int | None:
    """The week the user is in (1-16): by their start date, else their first week with open
    tasks; None when the curriculum is not loaded."""
    from portal.curriculum.models import WEEKS, Item, Week
    from portal.curriculum.progress import current_week, start_date_for

    if not Week.objects.active().exists():
        return None
    week = current_week(start_date_for(user), today or timezone.localdate())
    if week is not None:
        return min(max(week, 1), WEEKS)
    first_open = (
        Item.objects.active()
        .tasks()
        .with_done(user)
        .filter(is_done=False)
        .in_plan_order()
        .values_list("week__number", flat=True)
        .first()
    )
    return first_open or 1


def week_summary(user: Any, today: dt.date | None = None) -> str | None:
    """This week's goals, tasks (ticked or not) and readings as Markdown; None without a curriculum."""
    from portal.curriculum.models import Week
    from portal.curriculum.progress import checklist, start_date_for, week_start

    number = plan_week(user, today)
    if number is None:
        return None
    week = Week.objects.active().select_related("phase").filter(number=number).first()
    if week is None:
        return None
    tasks = list(checklist(user, kind="task", week=number))
    done = sum(1 for t in tasks if t.is_done)
    start = start_date_for(user)
    header = f"**第{week.number}周 {week.title}** · {_phase_heading(week.phase)}"
    if start:
        begins = week_start(start, week.number)
        header += "\n" + _("%(start)s to %(end)s") % {
            "start": f"{begins:%m-%d}",
            "end": f"{begins + dt.timedelta(days=6):%m-%d}",
        }
    lines = [header]
    if week.goals:
        lines += ["", "**" + _("Goals") + "**", _lines(week.goals)]
    if tasks:
        lines += ["", "**" + _("Tasks") + f" {done}/{len(tasks)}**"]
        lines += [f"- {'✅' if t.is_done else '⬜'} {t.title}" for t in tasks]
    if week.readings:
        lines += ["", "**" + _("Papers") + "**", _lines(r.get("title", "") for r in week.readings)]
    return "\n".join(lines)


def _on_track_line(progress: Any) -> str:
    from portal.curriculum.progress import TrackStatus

    track = progress.on_track
    if track.status == TrackStatus.NO_START:
        return _("No start date yet: set it in the portal to see whether you are on track.")
    if track.status == TrackStatus.NOT_STARTED:
        return _("The plan has not started yet.")
    if track.status == TrackStatus.BEHIND:
        return _("Week %(week)s: behind by %(n)s tasks (expected %(expected)s done).") % {
            "week": track.current_week,
            "n": track.behind,
            "expected": track.expected,
        }
    if track.status == TrackStatus.FINISHED:
        return _("The 16 weeks are over and every task is done.")
    return _("Week %(week)s: on track (%(ahead)s tasks ahead).") % {
        "week": track.current_week,
        "ahead": track.ahead,
    }


def progress_summary(user: Any) -> str | None:
    """The user's plan progress as Markdown (the dashboard's numbers); None without a curriculum."""
    from portal.curriculum.progress import compute_progress
    from portal.papers.services import core_progress

    progress = compute_progress(user)
    if progress.total == 0:
        return None
    core = core_progress(user)
    lines = [
        _("Checklist: %(done)s/%(total)s (%(percent)s%%)")
        % {"done": progress.done, "total": progress.total, "percent": progress.percent},
        _on_track_line(progress),
        _("Core papers read: %(read)s/%(total)s (goal %(goal)s)")
        % {"read": core.read, "total": core.total, "goal": core.goal},
        ngettext(
            "Study streak: %(days)s day · hours logged in reviews: %(hours)s",
            "Study streak: %(days)s days · hours logged in reviews: %(hours)s",
            progress.streak,
        )
        % {"days": progress.streak, "hours": progress.hours_total},
        "",
        "**" + _("Phases") + "**",
    ]
    lines += [f"- {p.title}: {p.done}/{p.total} ({p.percent}%)" for p in progress.phases]
    return "\n".join(lines)


def next_papers(user: Any, limit: int = 5) -> list[str]:
    """The papers to read next, as Markdown links: the ones being read, then the core papers
    not yet read or skipped, those due by this week first, in plan order."""
    from portal.curriculum.models import Week
    from portal.feishu.conf import absolute
    from portal.papers.models import Paper, ReadingStatus

    week = plan_week(user) or 1
    # due: papers the plan reads by this week (a week's reading list or the paper's weeks)
    due_ids = {
        r.get("arxiv_id")
        for readings in Week.objects.active()
        .filter(number__lte=week)
        .values_list("readings", flat=True)
        for r in readings
    }
    reading = list(
        Paper.objects.filter(readings__user=user, readings__status=ReadingStatus.READING).order_by(
            "core_order", "arxiv_id"
        )
    )
    core = [p for p in Paper.objects.core().unfinished_for(user) if p not in reading]
    core.sort(
        key=lambda p: (
            0 if p.arxiv_id in due_ids or any(w <= week for w in p.curriculum_weeks) else 1,
            min(p.curriculum_weeks, default=99),
            p.core_order,
        )
    )
    out = []
    for paper in (reading + core)[:limit]:
        note = [_("reading") if paper in reading else ""]
        if paper.curriculum_weeks:
            note.append("、".join(f"第{w}周" for w in paper.curriculum_weeks))
        note.append(paper.stars)
        out.append(
            f"[{paper.display_title}]({absolute(paper.get_absolute_url())}) — "
            + " · ".join(n for n in note if n)
        )
    return out


def next_open_task(user: Any) -> Any | None:
    """The first unticked task of the user's current week, else of the whole plan."""
    from portal.curriculum.models import Item

    open_tasks = Item.objects.active().tasks().with_done(user).filter(is_done=False).in_plan_order()
    week = plan_week(user)
    return open_tasks.filter(week__number=week).first() or open_tasks.first()


def mark_task_done(user: Any, pk: int | None) -> Any | None:
    """Tick an active curriculum item through the curriculum's own service; the item, or None."""
    from portal.curriculum.models import Item
    from portal.curriculum.services import set_item_done

    item = Item.objects.active().filter(pk=pk).first() if pk is not None else None
    if item is None:
        return None
    set_item_done(user=user, item=item, done=True)
    return item


@dataclass(frozen=True)
class ReviewDue:
    week: int
    title: str
    done_tasks: list[str]
    url: str


def review_due(user: Any, today: dt.date) -> ReviewDue | None:
    """The 每周复盘 the user owes on `today`, or None.

    The week under review is the current plan week once its last two days have come,
    else the week before; nothing is owed before the plan starts or when the
    review already exists.
    """
    from portal.curriculum.models import WEEKS, ItemProgress, Week, WeeklyReview
    from portal.curriculum.progress import current_week, start_date_for, week_start

    start = start_date_for(user)
    week = current_week(start, today)
    if start is None or week is None or week == 0:
        return None
    if week > WEEKS:
        number = WEEKS
    else:
        day = (today - week_start(start, week)).days
        number = week if day >= 5 else week - 1
    if number < 1 or WeeklyReview.objects.of_week(user, number).exists():
        return None
    row = Week.objects.active().filter(number=number).first()
    done = list(
        ItemProgress.objects.for_user(user)
        .done()
        .filter(item__week__number=number)
        .order_by("item__order")
        .values_list("item__title", flat=True)
    )
    return ReviewDue(
        week=number,
        title=row.title if row else "",
        done_tasks=done,
        url=reverse("curriculum:review", args=[number]),
    )


def last_review_summary(user: Any, before_week: int | None = None) -> str | None:
    """The latest 每周复盘 (up to `before_week`) in a few lines, or None."""
    from portal.curriculum.models import WeeklyReview

    reviews = WeeklyReview.objects.filter(user=user)
    if before_week is not None:
        reviews = reviews.filter(week__lte=before_week)
    review = reviews.order_by("-week").first()
    if review is None:
        return None
    lines = [
        _("Week %(week)s review, %(hours)s h") % {"week": review.week, "hours": review.total_hours}
    ]
    if review.completed:
        lines.append(_("Done: %(items)s") % {"items": "；".join(map(str, review.completed[:5]))})
    if review.problems:
        lines.append(
            _("Problems: %(items)s")
            % {"items": "；".join(str(p.get("problem", "")) for p in review.problems[:3])}
        )
    if review.next_plan:
        lines.append(_("Next: %(items)s") % {"items": "；".join(map(str, review.next_plan[:5]))})
    return "\n".join(lines)
