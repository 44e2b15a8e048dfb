"""The knowledge base's view of the other apps, and the facts the bot and the digest show.

Ingestion turns the curriculum (phases, weeks with their goals, tasks and checklist,
the core goals, the guide), the paper tracker (core papers, and each person's own
reading record with notes) and finished lab runs (result, tables, the Markdown report
artifact) into documents. The facts (`progress_summary`, `week_summary`,
`next_papers`, `next_open_task`, `mark_task_done`, `review_due`) are read through
those apps' own querysets and services, so the numbers match the portal's pages.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.urls import reverse
from django.utils import timezone

from portal.knowledge.models import Document, Source

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
    # What the item is about (kind, week, phase, paper_id): copied onto its chunks.
    meta: dict[str, Any] = field(default_factory=dict)


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


def _kaggle_row(phase: Any) -> str:
    """The phase's row of the plan's 16周实践计划, whole: its Kaggle活动, the practice beside
    it and the row's 产出 ("参加LLM竞赛那段时间要产出什么" is asked of the row). The row's
    practice is not the phase's 实践项目 (the milestone project), so it is not labelled as one."""
    if not phase.kaggle_activity:
        return ""
    beside = [f"配合实践：{phase.practice}" if phase.practice else ""]
    beside.append(f"产出：{phase.output}" if phase.output else "")
    said = "，".join(b for b in beside if b)
    return f"Kaggle活动：{phase.kaggle_activity}" + (f"（{said}）" if said else "")


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
                # The plan's own column names (its 16-week table): 学习重点, 实践项目, 里程碑.
                f"- 学习重点：{phase.focus}\n- 实践项目：{phase.project}\n"
                f"- 里程碑：{phase.milestone}"
                + (f"\n- 产出：{phase.output}" if phase.output else ""),
                phase.summary,
                _section("Kaggle", _join(_kaggle_row(phase), phase.kaggle)),
                _section("各周", titles),
            ),
            reverse("curriculum:index"),
            {"kind": "phase", "phase": phase.number},
        )
    for week in weeks:
        yield SourceItem(
            None,
            Source.CURRICULUM,
            f"week:{week.number}",
            f"第{week.number}周 {week.title}",
            week_document(week, tasks.get(week.pk, [])),
            reverse("curriculum:week", args=[week.number]),
            {"kind": "week", "week": week.number, "phase": week.phase.number},
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
                {"kind": "goals"},
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
            {"kind": f"guide:{section.value}"[:20]},
        )


# --- the plan document -----------------------------------------------------------------------

PLAN_PATH = Path(__file__).resolve().parent / "data" / "plan.md"
_PLAN_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*$")


_INFOGRAPHIC = re.compile(r"```infographic\n(.*?)```", re.S)
_ITEM = re.compile(r"^\s*-\s*label\s+(.+?)\s*$")
_FIELD = re.compile(r"^\s*(desc|value)\s+(.+?)\s*$")


def render_infographic(block: str) -> str:
    """A plan infographic as Markdown lines: its title, then "label：desc" per item.

    A pie chart's values are shares of 100, so they read as percentages ("实践项目：40%");
    icons and the chart kind are left out. The words are the plan's own.
    """
    pie = "chart-pie" in block
    lines: list[str] = []
    for line in block.splitlines():
        if line.strip().startswith("title "):
            lines.append(line.strip()[len("title ") :] + "：")
        elif match := _ITEM.match(line):
            lines.append(f"- {match.group(1)}")
        elif (match := _FIELD.match(line)) and lines and lines[-1].startswith("- "):
            value = match.group(2) + ("%" if pie and match.group(1) == "value" else "")
            lines[-1] += f"：{value}"
    return "\n".join(lines) + "\n"


_FENCE = re.compile(r"^\s*(`{3,})(.*)$")


def _in_fence(lines: list[str]) -> list[bool]:
    """Whether each line is inside a code fence, its opening line included. A fence opens on
    three or more backticks (an info string or not) and closes only on at least as many
    backticks alone: "```infographic" inside an open fence does not close it."""
    flags: list[bool] = []
    opened = 0  # the open fence's backtick count; 0 when none is open
    for line in lines:
        match = _FENCE.match(line)
        if match and not opened:
            opened = len(match.group(1))
        elif match and not match.group(2).strip() and len(match.group(1)) >= opened:
            opened = 0
        flags.append(bool(opened))
    return flags


def close_unclosed_fence(text: str) -> str:
    """Close a code fence the author left open, at its first double blank line.

    The plan's weekly-review template opens a ```markdown sample and never closes it, so
    every heading after it ("## 🎯 最终目标", "## 📄 文档维护") would read as sample text
    and their sections would be lost inside the template's. When a fence (_in_fence) is
    still open at the end, it ends where the author evidently meant it to: before the
    first two blank lines in a row. Well-formed Markdown is returned unchanged.
    """
    lines = text.splitlines()
    flags = _in_fence(lines)
    if not flags or not flags[-1]:
        return text
    start = max(i for i, flag in enumerate(flags) if flag and (i == 0 or not flags[i - 1]))
    ticks = len(_FENCE.match(lines[start]).group(1))  # type: ignore[union-attr]
    for i in range(start + 1, len(lines) - 1):
        if not lines[i].strip() and not lines[i + 1].strip():
            lines.insert(i, "`" * ticks)
            return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    return text


def plan_sections(text: str | None = None) -> list[tuple[str, str]]:
    """The study plan split at its headings into (title, Markdown), skipping empty sections.

    Each section is one document, so a citation points at "时间分配建议" rather than
    at the whole plan.
    """
    text = PLAN_PATH.read_text(encoding="utf-8") if text is None else text
    text = close_unclosed_fence(_INFOGRAPHIC.sub(lambda m: render_infographic(m.group(1)), text))
    sections: list[tuple[str, list[str], list[str]]] = []
    ancestors: list[tuple[int, str]] = []  # the heading lines above the current one
    lines = text.splitlines()
    for line, in_fence in zip(lines, _in_fence(lines), strict=True):
        match = None if in_fence else _PLAN_HEADING.match(line)
        if match:
            level = len(match.group(1))
            ancestors = [(lvl, head) for lvl, head in ancestors if lvl < level]
            # The document's own title (level 1) is above every section: it says nothing.
            above = [head for lvl, head in ancestors if lvl > 1]
            sections.append((match.group(2), above, [line]))
            ancestors.append((level, line))
        elif sections:
            sections[-1][2].append(line)
    out = []
    for title, above, lines in sections:
        body = "\n".join(lines[1:]).strip().strip("-").strip()
        if len(body) > 20:
            # The headings above the section come first, so its chunks' section path says
            # what the section is part of ("核心目标检查清单 / 技术能力目标").
            out.append((title, "\n".join([*above, *lines])))
    return out


def plan_items() -> Iterator[SourceItem]:
    """The study plan document itself (portal/knowledge/data/plan.md), one item per section."""
    from portal.knowledge.structured import week_number

    for i, (title, text) in enumerate(plan_sections()):
        meta: dict[str, Any] = {"kind": "plan"}
        week = week_number(title)
        if week is not None:
            meta["week"] = week
        yield SourceItem(
            None, Source.PLAN, f"plan:{i}", title, text, reverse("curriculum:guide"), meta
        )


# --- papers --------------------------------------------------------------------------------

STATUS_NAMES = {"to_read": "待读", "reading": "在读", "read": "已读", "skipped": "跳过"}


def _paper_header(paper: Any) -> str:
    """The paper's facts, one labelled line each ("发表：2022-05"), so a question about one of
    them ("哪年发表的", "作者是谁") finds its line."""
    authors = ", ".join(paper.authors[:8]) + ("…" if len(paper.authors) > 8 else "")
    return _lines(
        f"{label}：{value}"
        for label, value in (
            ("简称", paper.short_name if paper.short_name != paper.display_title else ""),
            ("标题", paper.title if paper.title != paper.display_title else ""),
            ("arXiv", paper.arxiv_id),
            ("作者", authors),
            ("发表", f"{paper.published:%Y-%m}" if paper.published else ""),
        )
        if value
    )


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
            {"kind": "paper", "paper_id": paper.arxiv_id},
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
            {"kind": "reading", "paper_id": paper.arxiv_id},
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
    from portal.labs.models import RunEvent

    return RunEvent.objects.filter(run_id__in=run_ids).latest_tables()


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
        {"kind": "lab_report"},
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
    from portal.knowledge.services import upsert_document

    _doc, queued = upsert_document(
        owner=item.owner,
        source=item.source,
        source_key=item.source_key,
        title=item.title,
        content=item.content,
        url=item.url,
        meta=item.meta,
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
    # The plan first: the embedding queue is FIFO, so it is answerable soonest after start.
    Source.PLAN: plan_items,
    Source.CURRICULUM: curriculum_items,
    Source.PAPER: paper_items,
    Source.LAB_REPORT: lab_report_items,
}
