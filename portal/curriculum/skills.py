"""The skills view: each 技术能力目标 with the evidence that backs it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef

from portal.curriculum.evidence import (
    LabLink,
    LabRunEvidence,
    lab_link,
    lab_runs,
    paper_url,
    read_arxiv_ids,
)
from portal.curriculum.models import Item, ItemKind, ItemProgress, Week


@dataclass(frozen=True)
class TaskRef:
    week: int
    title: str


@dataclass(frozen=True)
class RunRef:
    lab_title: str
    run: LabRunEvidence


@dataclass(frozen=True)
class PaperRef:
    arxiv_id: str
    title: str
    url: str


@dataclass
class SkillEvidence:
    slug: str
    group: str
    title: str
    detail: str
    done: bool
    done_at: dt.datetime | None
    labs: list[LabLink] = field(default_factory=list)
    tasks: list[TaskRef] = field(default_factory=list)
    runs: list[RunRef] = field(default_factory=list)
    papers: list[PaperRef] = field(default_factory=list)


def paper_titles() -> dict[str, str]:
    titles: dict[str, str] = {}
    for readings in Week.objects.active().values_list("readings", flat=True):
        for r in readings:
            titles.setdefault(r["arxiv_id"], r["title"])
    return titles


def skill_evidence(user: Any) -> tuple[list[SkillEvidence], int | None]:
    """Each skill goal with its ticked tasks, lab runs and read papers; a fixed number of queries."""
    skills = list(
        Item.objects.active().filter(kind=ItemKind.SKILL).with_done(user).order_by("order", "id")
    )
    done_here = ItemProgress.objects.filter(user=user, item=OuterRef("pk"), done=True)
    tasks = list(
        Item.objects.active()
        .tasks()
        .exclude(skills=[])
        .annotate(is_done=Exists(done_here))
        .select_related("week")
        .order_by("week__number", "order")
    )
    read_ids = read_arxiv_ids(user)
    read = read_ids or set()
    titles = paper_titles()
    lab_ids = sorted({lab for i in skills + tasks for lab in i.labs})
    runs = lab_runs(user, lab_ids)
    links = {lab: lab_link(lab) for lab in lab_ids}

    result = []
    for skill in skills:
        backing = [t for t in tasks if skill.slug in t.skills]
        labs = list(dict.fromkeys([*skill.labs, *(lab for t in backing for lab in t.labs)]))
        papers = list(dict.fromkeys([*skill.papers, *(p for t in backing for p in t.papers)]))
        result.append(
            SkillEvidence(
                slug=skill.slug,
                group=skill.group,
                title=skill.title,
                detail=skill.detail,
                done=skill.is_done,
                done_at=skill.done_time,
                labs=[links[lab] for lab in labs],
                tasks=[TaskRef(t.week.number, t.title) for t in backing if t.is_done],
                runs=[RunRef(links[r.lab_id].title, r) for r in runs if r.lab_id in labs],
                papers=[
                    PaperRef(a, titles.get(a, f"arXiv:{a}"), paper_url(a))
                    for a in papers
                    if a in read
                ],
            )
        )
    return result, None if read_ids is None else len(read_ids)
