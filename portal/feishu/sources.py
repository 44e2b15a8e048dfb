"""The knowledge base's view of the other apps, and the facts the bot and the digest show.

Ingestion turns the curriculum (phases, weeks with their goals, tasks and checklist,
the core goals, the guide), the paper tracker (core papers, and each person's own
reading record with notes) and finished lab runs (result, tables, the Markdown report
artifact) into documents. The facts (`progress_summary`, `week_summary`,
`next_papers`, `next_open_task`, `mark_task_done`, `review_due`) are read through
those apps' own querysets and services, so the numbers match the portal's pages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.feishu.models import Document, Source

log = logging.getLogger(__name__)

# A lab report is embedded in full up to this size; the rest of a huge report is cut.
REPORT_MAX_CHARS = 60_000
TABLE_MAX_ROWS = 40
TABLE_MAX_COLUMNS = 10


@dataclass(frozen=True)
class SourceItem:
    owner: Any  # a user, or None for a document everyone may retrieve
    source: str
    source_key: str
    title: str
    content: str
    url: str


def _lines(items: Iterable[str], prefix: str = "- ") -> str:
    return "\n".join(f"{prefix}{i}" for i in items if str(i).strip())


def _join(*parts: str) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _section(heading: str, body: str, level: int = 2) -> str:
    return f"{'#' * level} {heading}\n{body}" if body.strip() else ""


# --- the curriculum ------------------------------------------------------------------------

PHASE_NAMES = {1: "第一阶段", 2: "第二阶段", 3: "第三阶段", 4: "第四阶段"}
GUIDE_TITLES = {
    "time_split": "时间分配建议",
    "faq": "常见问题",
    "community": "社区",
    "blog": "博客",
    "open_source": "开源项目",
    "dataset": "数据集",
    "research": "研究机构与论文检索",
    "usage": "如何使用这份计划",
    "outcome": "16周后你将达到的水平",
}


def _phase_heading(phase: Any) -> str:
    name = PHASE_NAMES.get(phase.number, f"阶段{phase.number}")
    return f"{name} {phase.title}（第{phase.first_week}-{phase.last_week}周）"


def _task_lines(items: Iterable[Any]) -> str:
    """Tasks grouped under their day ("Day 1-2") in plan order, one line each."""
    out: list[str] = []
    group = None
    for item in items:
        if item.group != group:
            group = item.group
            if group:
                out.append(f"\n### {group}")
        line = f"- {item.title}"
        if item.detail:
            line += f"：{item.detail}"
        out.append(line)
    return "\n".join(out).strip()


def week_document(week: Any, tasks: list[Any]) -> str:
    project = week.project or {}
    project_body = _join(
        str(project.get("description", "")),
        _lines(project.get("deliverables", [])),
    )
    readings = _lines(
        f"{r.get('title', '')}（arXiv:{r.get('arxiv_id', '')}）"
        + (f"：{r['why']}" if r.get("why") else "")
        for r in week.readings
    )
    resources = _lines(
        f"[{r.get('title', '')}]({r.get('url', '')})" + (f"：{r['note']}" if r.get("note") else "")
        for r in week.resources
    )
    return _join(
        f"# 第{week.number}周 {week.title}",
        _phase_heading(week.phase),
        week.summary,
        _section("本周目标", _lines(week.goals)),
        _section("学习主题", _lines(week.topics)),
        _section("任务清单", _task_lines(tasks)),
        _section(f"实践项目：{project.get('title', '')}", project_body),
        _section("Kaggle", week.kaggle),
        _section("论文阅读", readings),
        _section("学习资源", resources),
        _section("实验", _lines(_lab_title(lab_id) for lab_id in week.labs)),
    )


def _lab_title(lab_id: str) -> str:
    from portal.labs.registry import get_lab

    lab = get_lab(lab_id)
    return f"{lab.title}（{lab_id}）" if lab else lab_id


def curriculum_items() -> Iterator[SourceItem]:
    from portal.curriculum.models import GuideEntry, GuideSection, Item, ItemKind, Phase, Week

    tasks: dict[int, list[Any]] = {}
    for item in Item.objects.active().tasks().in_plan_order():
        tasks.setdefault(item.week_id, []).append(item)
    weeks = list(Week.objects.active().select_related("phase"))
    for phase in Phase.objects.filter(archived=False):
        titles = _lines(f"第{w.number}周 {w.title}" for w in weeks if w.phase_id == phase.pk)
        yield SourceItem(
            None,
            Source.CURRICULUM,
            f"phase:{phase.slug}",
            _phase_heading(phase),
            _join(
                f"# {_phase_heading(phase)}",
                f"- 重点：{phase.focus}\n- 项目：{phase.project}\n- 里程碑：{phase.milestone}"
                + (f"\n- 产出：{phase.output}" if phase.output else ""),
                phase.summary,
                _section("Kaggle", phase.kaggle),
                _section("各周", titles),
            ),
            reverse("curriculum:index"),
        )
    for week in weeks:
        yield SourceItem(
            None,
            Source.CURRICULUM,
            f"week:{week.number}",
            f"第{week.number}周 {week.title}",
            week_document(week, tasks.get(week.pk, [])),
            reverse("curriculum:week", args=[week.number]),
        )
    goals = Item.objects.active().goals().in_plan_order()
    for kind, title in (
        (ItemKind.SKILL, "核心目标：技术技能"),
        (ItemKind.OUTPUT, "核心目标：项目产出"),
    ):
        rows = [g for g in goals if g.kind == kind]
        if rows:
            yield SourceItem(
                None,
                Source.CURRICULUM,
                f"goals:{kind.value}",
                title,
                _join(f"# {title}", _task_lines(rows)),
                reverse("curriculum:goals"),
            )
    entries: dict[str, list[Any]] = {}
    for entry in GuideEntry.objects.filter(archived=False):
        entries.setdefault(entry.section, []).append(entry)
    for section in GuideSection:
        rows = entries.get(section.value, [])
        if not rows:
            continue
        title = GUIDE_TITLES.get(section.value, str(section.label))
        parts = [f"# {title}"]
        for e in rows:
            extra = _lines(str(a) for a in e.data.get("answers", []))
            link = f"\n{e.url}" if e.url else ""
            parts.append(_section(e.title, _join(e.body + link, extra) or e.title))
        yield SourceItem(
            None,
            Source.CURRICULUM,
            f"guide:{section.value}",
            title,
            _join(*parts),
            reverse("curriculum:guide"),
        )


# --- papers --------------------------------------------------------------------------------

STATUS_NAMES = {"to_read": "待读", "reading": "在读", "read": "已读", "skipped": "跳过"}


def _paper_header(paper: Any) -> str:
    facts = [f"arXiv:{paper.arxiv_id}"]
    if paper.short_name:
        facts.insert(0, paper.short_name)
    if paper.authors:
        facts.append(
            "作者：" + ", ".join(paper.authors[:8]) + ("…" if len(paper.authors) > 8 else "")
        )
    if paper.published:
        facts.append(f"{paper.published:%Y-%m}")
    return " · ".join(facts)


def paper_document(paper: Any) -> str:
    plan = []
    if paper.is_core:
        plan.append(f"必读核心论文（第{paper.core_order}篇），优先级 {paper.stars}")
    if paper.curriculum_weeks:
        plan.append("对应课程：" + "、".join(f"第{w}周" for w in paper.curriculum_weeks))
    if paper.lab_id:
        plan.append(f"对应实验：{_lab_title(paper.lab_id)}")
    return _join(
        f"# {paper.display_title}",
        _paper_header(paper),
        _section("摘要", paper.abstract),
        _section("在学习计划中", _lines(plan)),
    )


def reading_document(reading: Any) -> str:
    paper = reading.paper
    facts = [f"状态：{STATUS_NAMES.get(reading.status, reading.status)}"]
    if reading.read_at:
        facts.append(f"读完于 {timezone.localdate(reading.read_at):%Y-%m-%d}")
    if reading.rating:
        facts.append(f"评分 {reading.rating}/5")
    if reading.tags:
        facts.append("标签：" + ", ".join(reading.tags))
    return _join(
        f"# 我的笔记：{paper.display_title}",
        _paper_header(paper),
        " · ".join(facts),
        # a core paper's abstract is in its shared document already
        "" if paper.is_core else _section("摘要", paper.abstract),
        _section("笔记", reading.notes),
    )


def paper_items() -> Iterator[SourceItem]:
    """Core papers for everyone; each person's reading records (with notes) for them alone."""
    from portal.papers.models import Paper, Reading, ReadingStatus

    for paper in Paper.objects.core():
        yield SourceItem(
            None,
            Source.PAPER,
            f"paper:{paper.arxiv_id}",
            paper.display_title,
            paper_document(paper),
            paper.get_absolute_url(),
        )
    readings = Reading.objects.select_related("paper", "user").order_by("pk")
    for reading in readings.iterator(chunk_size=500):
        paper = reading.paper
        personal = (
            reading.notes.strip()
            or reading.tags
            or reading.rating
            or reading.status != ReadingStatus.TO_READ
        )
        if paper.is_core and not personal:
            continue  # nothing of this person's own to add to the shared document
        yield SourceItem(
            reading.user,
            Source.PAPER,
            f"reading:{paper.arxiv_id}",
            f"{paper.display_title}（我的笔记）",
            reading_document(reading),
            paper.get_absolute_url(),
        )


# --- lab reports ---------------------------------------------------------------------------

RUN_STATUS_NAMES = {"succeeded": "成功", "failed": "失败", "lost": "丢失", "cancelled": "已取消"}
REPORTED_STATUSES = ("succeeded", "failed")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:79] + "…"


def markdown_table(rows: list[Any]) -> str:
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns and len(columns) < TABLE_MAX_COLUMNS:
                columns.append(key)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:TABLE_MAX_ROWS]:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    if len(rows) > TABLE_MAX_ROWS:
        lines.append(f"（共 {len(rows)} 行，仅列出前 {TABLE_MAX_ROWS} 行）")
    return "\n".join(lines)


def result_markdown(result: Any, *, level: int = 2) -> str:
    """A lab's result dict as Markdown: scalars as a list, lists of rows as tables."""
    if not isinstance(result, dict):
        return _cell(result)
    scalars, parts = [], []
    for key, value in result.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts.append(_section(str(key), markdown_table(value), level))
        elif isinstance(value, dict) and value and level < 4:
            parts.append(_section(str(key), result_markdown(value, level=level + 1), level))
        elif isinstance(value, list):
            scalars.append(f"{key}: " + ", ".join(_cell(v) for v in value[:30]))
        else:
            scalars.append(f"{key}: {_cell(value)}")
    return _join(_lines(scalars), *parts)


def _latest_tables(run_ids: list[int]) -> dict[int, dict[str, list[Any]]]:
    from portal.labs.models import EventKind, RunEvent

    tables: dict[int, dict[str, list[Any]]] = {}
    events = RunEvent.objects.filter(run_id__in=run_ids, kind=EventKind.TABLE).order_by("seq")
    for run_id, data in events.values_list("run_id", "data"):
        if isinstance(data, dict) and "name" in data:
            tables.setdefault(run_id, {})[str(data["name"])] = data.get("rows") or []
    return tables


def _report_text(artifacts: Iterable[Any]) -> str:
    """The run's Markdown report artifact (e.g. llm-quant-report.md), if it has one."""
    for artifact in artifacts:
        if not artifact.name.endswith(".md"):
            continue
        try:
            text = Path(artifact.path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            log.warning("report artifact %s of run %s is missing", artifact.name, artifact.run_id)
            continue
        return text[:REPORT_MAX_CHARS]
    return ""


def run_title(run: Any) -> str:
    lab = run.lab
    return f"{lab.title if lab else run.lab_id} · 运行 #{run.pk}（{RUN_STATUS_NAMES.get(run.status, run.status)}）"


def run_document(run: Any, tables: dict[str, list[Any]], report: str) -> str:
    facts = [f"实验：{run.lab_id}"]
    if run.finished_at:
        facts.append(f"结束于 {timezone.localtime(run.finished_at):%Y-%m-%d %H:%M}")
    if run.duration_s is not None:
        facts.append(f"用时 {run.duration_s:.1f} 秒")
    if run.worker:
        facts.append(f"worker：{run.worker}")
    device = run.device or {}
    where = device.get("device_name") or device.get("cpu") or ""
    if device.get("torch_device"):
        facts.append(f"设备：{device['torch_device']} {where}".strip())
    params = _lines(f"{k}: {_cell(v)}" for k, v in (run.params or {}).items())
    body = [
        f"# {run_title(run)}",
        " · ".join(facts),
        _section("参数", params),
        _section("错误", run.error),
    ]
    if report:
        body.append(_section("报告", report))
    else:
        body.append(_section("结果", result_markdown(run.result) if run.result else ""))
        body += [_section(f"表格：{name}", markdown_table(rows)) for name, rows in tables.items()]
    return _join(*body)


def _run_item(run: Any, tables: dict[str, list[Any]]) -> SourceItem:
    return SourceItem(
        run.owner,
        Source.LAB_REPORT,
        f"run:{run.pk}",
        run_title(run),
        run_document(run, tables, _report_text(run.artifacts.all())),
        reverse("labs:run", args=[run.pk]),
    )


def _finished_runs() -> Any:
    from portal.labs.models import Run

    return (
        Run.objects.filter(status__in=REPORTED_STATUSES)
        .select_related("owner")
        .prefetch_related("artifacts")
    )


def lab_report_items(limit: int = 500) -> Iterator[SourceItem]:
    """The newest finished (succeeded or failed) runs, each for its owner only."""
    runs = list(_finished_runs().order_by("-pk")[:limit])
    tables = _latest_tables([r.pk for r in runs])
    for run in runs:
        yield _run_item(run, tables.get(run.pk, {}))


def _upsert(item: SourceItem) -> bool:
    """Store one item as a knowledge-base document; True when it was (re-)queued for embedding."""
    from portal.feishu.services import upsert_document

    _doc, queued = upsert_document(
        owner=item.owner,
        source=item.source,
        source_key=item.source_key,
        title=item.title,
        content=item.content,
        url=item.url,
    )
    return queued


def ingest_run(run_id: int) -> bool:
    """Put one finished run's report into the knowledge base now (not at the next sync)."""
    run = _finished_runs().filter(pk=run_id).first()
    if run is None:
        return False
    return _upsert(_run_item(run, _latest_tables([run.pk]).get(run.pk, {})))


def sync_sources() -> dict[str, int]:
    """Ingest every item of the other apps; returns counts (queued, unchanged, removed, failed).

    Items that disappeared from their app are removed from the knowledge base. A
    source that fails is logged and counted, and its documents are left alone.
    """
    counts = {"queued": 0, "unchanged": 0, "removed": 0, "failed": 0}
    for source, producer in PRODUCERS.items():
        keep: set[tuple[int | None, str]] = set()
        try:
            for item in producer():
                queued = _upsert(item)
                counts["queued" if queued else "unchanged"] += 1
                keep.add((getattr(item.owner, "pk", None), item.source_key))
        except Exception:
            log.exception("knowledge source %s failed", source)
            counts["failed"] += 1
            continue
        for doc in Document.objects.filter(source=source).only("pk", "owner_id", "source_key"):
            if (doc.owner_id, doc.source_key) not in keep:
                doc.delete()
                counts["removed"] += 1
    return counts


PRODUCERS: dict[str, Callable[[], Iterator[SourceItem]]] = {
    Source.CURRICULUM: curriculum_items,
    Source.PAPER: paper_items,
    Source.LAB_REPORT: lab_report_items,
}


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
    from portal.feishu.answering import absolute
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
    if number < 1 or WeeklyReview.objects.filter(user=user, week=number).exists():
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
