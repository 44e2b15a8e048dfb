"""Soft access to the curriculum, papers and labs apps (built in parallel).

Models are looked up with `apps.get_model` and read through plain attributes,
so this app works (with less to say) whatever those apps contain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from portal.feishu.models import Document, Source

log = logging.getLogger(__name__)

_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)
_SKIP_FIELDS = {"id", "slug", "content_hash", "status", "source_key", "password"}


def model(app_label: str, *names: str) -> type[models.Model] | None:
    for name in names:
        try:
            return apps.get_model(app_label, name)
        except LookupError:
            continue
    return None


def _owner_id(obj: Any) -> int | None:
    for attr in ("owner_id", "user_id"):
        value = getattr(obj, attr, None)
        if value is not None:
            return value
    return None


def _value_text(value: Any) -> str:
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(f"- {_value_text(v)}" for v in value if v not in (None, ""))
    if isinstance(value, dict):
        return "\n".join(f"- {k}: {_value_text(v)}" for k, v in value.items())
    return str(value).strip()


def describe(obj: models.Model, *, skip: Iterable[str] = ()) -> str:
    """Markdown of an object's text fields, each under its verbose name."""
    skip = set(skip) | _SKIP_FIELDS
    parts = []
    for f in obj._meta.concrete_fields:
        if not isinstance(f, _TEXT_FIELDS) or f.name in skip or f.choices:
            continue
        text = _value_text(getattr(obj, f.attname, None))
        if text:
            parts.append(f"### {str(f.verbose_name).capitalize()}\n{text}")
    return "\n\n".join(parts)


def _related_items(obj: models.Model) -> str:
    """Checklist rows and the like: text of one-to-many children, one line each."""
    lines = []
    for rel in obj._meta.related_objects:
        if not rel.one_to_many or rel.related_model._meta.app_label != obj._meta.app_label:
            continue
        accessor = rel.get_accessor_name()
        try:
            children = list(getattr(obj, accessor).all()[:200])
        except Exception:  # an unexpected relation shape must not stop the sync
            continue
        for child in children:
            label = next(
                (
                    str(getattr(child, a))
                    for a in ("title", "text", "name", "description")
                    if getattr(child, a, "")
                ),
                "",
            )
            if label:
                done = getattr(child, "done", None)
                mark = "[x] " if done is True else "[ ] " if done is False else ""
                lines.append(f"- {mark}{label}")
    return "\n".join(lines)


def _url(obj: Any, fallback: str) -> str:
    try:
        return obj.get_absolute_url()
    except Exception:
        return fallback


@dataclass(frozen=True)
class SourceItem:
    owner_id: int | None
    source: str
    source_key: str
    title: str
    content: str
    url: str


def curriculum_items() -> Iterator[SourceItem]:
    week_model = model("curriculum", "Week")
    if week_model is None:
        return
    for week in week_model.objects.all():
        number = getattr(week, "number", None) or getattr(week, "index", None) or week.pk
        title = str(getattr(week, "title", "") or f"Week {number}")
        phase = getattr(week, "phase", "")
        phase_text = str(getattr(phase, "title", phase) or "")
        body = describe(week, skip={"title"})
        items = _related_items(week)
        content = "\n\n".join(
            p
            for p in (
                f"# 第{number}周 {title}",
                f"{phase_text}" if phase_text else "",
                body,
                f"### Checklist\n{items}" if items else "",
            )
            if p
        )
        yield SourceItem(
            _owner_id(week),
            Source.CURRICULUM,
            f"week:{week.pk}",
            f"第{number}周 {title}",
            content,
            _url(week, "/curriculum/"),
        )


def paper_items() -> Iterator[SourceItem]:
    paper_model = model("papers", "Paper")
    if paper_model is None:
        return
    for paper in paper_model.objects.all():
        title = str(getattr(paper, "title", "") or getattr(paper, "arxiv_id", "") or paper.pk)
        arxiv_id = getattr(paper, "arxiv_id", "")
        parts = [f"# {title}"]
        if arxiv_id:
            parts.append(f"arXiv: {arxiv_id}")
        parts.append(describe(paper, skip={"title", "arxiv_id"}))
        # Notes and reading entries may live on related models (per user).
        notes = _related_items(paper)
        if notes:
            parts.append(f"### Notes\n{notes}")
        yield SourceItem(
            _owner_id(paper),
            Source.PAPER,
            f"paper:{arxiv_id or paper.pk}",
            title,
            "\n\n".join(p for p in parts if p),
            _url(paper, "/papers/"),
        )


_FINISHED = {"succeeded", "success", "finished", "done", "completed", "failed"}


def lab_report_items() -> Iterator[SourceItem]:
    run_model = model("labs", "Run", "LabRun")
    if run_model is None:
        return
    for run in run_model.objects.all().order_by("-pk")[:500]:
        status = str(getattr(run, "status", "")).lower()
        if status and status not in _FINISHED:
            continue
        lab = getattr(run, "lab_id", "") or getattr(run, "lab", "")
        title = f"Lab {lab} — run {run.pk} ({status or 'finished'})"
        result = getattr(run, "result", None)
        content = "\n\n".join(
            p
            for p in (
                f"# {title}",
                describe(run, skip={"result", "params"}),
                "### Result\n" + json.dumps(result, ensure_ascii=False, indent=1) if result else "",
            )
            if p
        )
        yield SourceItem(
            _owner_id(run), Source.LAB_REPORT, f"run:{run.pk}", title, content, _url(run, "/labs/")
        )


def sync_sources() -> dict[str, int]:
    """Ingest every item of the other apps; returns counts (queued, unchanged, removed, failed).

    Items that disappeared from their app are removed from the knowledge base. A
    source that fails is logged and counted, and its documents are left alone.
    """
    from django.contrib.auth import get_user_model

    from portal.feishu.services import upsert_document

    user_model = get_user_model()
    counts = {"queued": 0, "unchanged": 0, "removed": 0, "failed": 0}
    for source, producer in _PRODUCERS.items():
        if model(*_SOURCE_MODEL[source]) is None:
            continue  # the app is absent: leave what was ingested alone
        keep: set[tuple[int | None, str]] = set()
        try:
            for item in producer():
                owner = (
                    user_model.objects.filter(pk=item.owner_id).first() if item.owner_id else None
                )
                _doc, queued = upsert_document(
                    owner=owner,
                    source=item.source,
                    source_key=item.source_key,
                    title=item.title,
                    content=item.content,
                    url=item.url,
                )
                counts["queued" if queued else "unchanged"] += 1
                keep.add((item.owner_id, item.source_key))
        except Exception:
            log.exception("knowledge source %s failed", source)
            counts["failed"] += 1
            continue
        for doc in Document.objects.filter(source=source).only("pk", "owner_id", "source_key"):
            if (doc.owner_id, doc.source_key) not in keep:
                doc.delete()
                counts["removed"] += 1
    return counts


_SOURCE_MODEL = {
    Source.CURRICULUM: ("curriculum", "Week"),
    Source.PAPER: ("papers", "Paper"),
    Source.LAB_REPORT: ("labs", "Run", "LabRun"),
}
_PRODUCERS = {
    Source.CURRICULUM: curriculum_items,
    Source.PAPER: paper_items,
    Source.LAB_REPORT: lab_report_items,
}


# --- facts for bot commands and digests ---------------------------------------------------------


def week_summary(user: Any) -> str | None:
    """This week's goals and tasks as Markdown, or None when the curriculum is absent."""
    week_model = model("curriculum", "Week")
    if week_model is None:
        return None
    qs = week_model.objects.all()
    week = None
    for attr in ("is_current", "current"):
        if hasattr(week_model, attr) and callable(getattr(week_model.objects, attr, None)):
            week = getattr(week_model.objects, attr)()
    if week is None:
        order = "number" if any(f.name == "number" for f in week_model._meta.fields) else "pk"
        # The first week with unfinished checklist items, else the first week.
        for candidate in qs.order_by(order):
            items = _related_items(candidate)
            if "[ ]" in items:
                week = candidate
                break
        week = week or qs.order_by(order).first()
    if week is None:
        return None
    number = getattr(week, "number", week.pk)
    return f"**第{number}周 {getattr(week, 'title', '')}**\n{describe(week, skip={'title'})}\n{_related_items(week)}".strip()


def progress_summary(user: Any) -> str | None:
    """Checklist completion (done/total) across the curriculum, or None when unavailable."""
    week_model = model("curriculum", "Week")
    if week_model is None:
        return None
    done = total = 0
    for week in week_model.objects.all():
        for line in _related_items(week).splitlines():
            if line.startswith("- [x]"):
                done += 1
                total += 1
            elif line.startswith("- [ ]"):
                total += 1
    if total == 0:
        return None
    return f"{done}/{total} ({done * 100 // total}%)"


def next_papers(user: Any, limit: int = 5) -> list[str]:
    paper_model = model("papers", "Paper")
    if paper_model is None:
        return []
    qs = paper_model.objects.all()
    names = {f.name for f in paper_model._meta.get_fields()}
    if "read_at" in names:
        qs = qs.filter(read_at__isnull=True)
    elif "status" in names:
        qs = qs.exclude(status__in=["read", "done"])
    if "priority" in names:
        qs = qs.order_by("-priority", "pk")
    return [str(getattr(p, "title", p)) for p in qs[:limit]]


def ready_documents() -> Iterable[Document]:
    return Document.objects.filter(chunk_count__gt=0)


def _task_rows(week: models.Model) -> Iterator[models.Model]:
    for rel in week._meta.related_objects:
        if rel.one_to_many and rel.related_model._meta.app_label == week._meta.app_label:
            fields = {f.name for f in rel.related_model._meta.fields}
            if "done" in fields:
                yield from getattr(week, rel.get_accessor_name()).filter(done=False).order_by("pk")


def next_open_task(user: Any) -> dict[str, Any] | None:
    """The first unfinished checklist row of the curriculum, as a card-button value."""
    week_model = model("curriculum", "Week")
    if week_model is None:
        return None
    for week in week_model.objects.all().order_by("pk"):
        for row in _task_rows(week):
            if _owner_id(row) not in (None, getattr(user, "pk", None)):
                continue
            return {"model": row._meta.label_lower, "pk": row.pk}
    return None


def mark_task_done(user: Any, label: str, pk: int | None) -> bool:
    """Set `done` on a curriculum row the user may change; False when it is not such a row."""
    if not label.startswith("curriculum.") or pk is None:
        return False
    try:
        row_model = apps.get_model(label)
    except (LookupError, ValueError):
        return False
    if "done" not in {f.name for f in row_model._meta.fields}:
        return False
    row = row_model.objects.filter(pk=pk).first()
    if row is None or _owner_id(row) not in (None, getattr(user, "pk", None)):
        return False
    row.done = True
    row.save(update_fields=["done"])
    return True
