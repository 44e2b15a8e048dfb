"""Soft links to the papers and labs apps, which are optional neighbours of this one.

The curriculum never imports their models at import time. Those apps may
register providers here from their AppConfig.ready() (the preferred way);
otherwise a conservative lookup through the app registry is tried, and when
nothing fits the curriculum simply shows no such evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse

PAPERS_GOAL = 20


@dataclass(frozen=True)
class LabLink:
    id: str
    title: str
    url: str | None
    registered: bool


@dataclass(frozen=True)
class LabRunEvidence:
    lab_id: str
    run_id: Any
    status: str
    url: str | None
    finished_at: Any = None


ReadIdsProvider = Callable[[Any], Iterable[str]]
PaperUrlProvider = Callable[[str], str | None]
LabRunsProvider = Callable[[Any, list[str]], Iterable[LabRunEvidence]]

_read_ids: ReadIdsProvider | None = None
_paper_url: PaperUrlProvider | None = None
_lab_runs: LabRunsProvider | None = None


def register_paper_provider(
    *, read_arxiv_ids: ReadIdsProvider, paper_url: PaperUrlProvider | None = None
) -> None:
    """For the papers app: `read_arxiv_ids(user)` must cost a constant number of queries."""
    global _read_ids, _paper_url
    _read_ids = read_arxiv_ids
    _paper_url = paper_url


def register_lab_runs_provider(provider: LabRunsProvider) -> None:
    """For the labs app: `provider(user, lab_ids)` returns the user's succeeded runs of those labs."""
    global _lab_runs
    _lab_runs = provider


def reset_providers() -> None:
    global _read_ids, _paper_url, _lab_runs
    _read_ids = _paper_url = _lab_runs = None


def _first_reverse(names: Iterable[str], *args: Any) -> str | None:
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return None


def _model(app_label: str, name: str) -> Any | None:
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


def _field(model: Any, *names: str) -> str | None:
    for name in names:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        return name
    return None


def read_arxiv_ids(user: Any) -> set[str] | None:
    """arXiv ids the user has marked read, or None when no paper tracker is available."""
    if _read_ids is not None:
        return set(_read_ids(user))
    paper = _model("papers", "Paper")
    if paper is None:
        return None
    # Fallback: a per-user status row pointing at Paper, e.g. (user, paper, status="read").
    for rel in paper._meta.related_objects:
        status_model = rel.related_model
        user_field = _field(status_model, "user", "owner")
        if user_field is None or _field(status_model, "status") is None:
            continue
        return set(
            status_model.objects.filter(**{user_field: user, "status": "read"}).values_list(
                f"{rel.field.name}__arxiv_id", flat=True
            )
        )
    return None


def paper_url(arxiv_id: str) -> str:
    """The paper tracker's page for the paper when it has one, else arXiv's abstract page."""
    if _paper_url is not None:
        # The tracker knows which papers have a page; for the others it answers None.
        return _paper_url(arxiv_id) or f"https://arxiv.org/abs/{arxiv_id}"
    if _model("papers", "Paper") is not None:
        url = _first_reverse(["papers:detail", "papers:paper"], arxiv_id)
        if url:
            return url
    return f"https://arxiv.org/abs/{arxiv_id}"


def lab_link(lab_id: str) -> LabLink:
    from portal.labs.registry import get_lab

    lab = get_lab(lab_id)
    url = None
    if lab is not None:  # an unregistered lab has no page to link to, even if its URL reverses
        url = _first_reverse(["labs:detail", "labs:lab"], lab_id) or _first_reverse(["labs:index"])
    return LabLink(
        id=lab_id, title=lab.title if lab else lab_id, url=url, registered=lab is not None
    )


def lab_runs(user: Any, lab_ids: list[str]) -> list[LabRunEvidence]:
    """The user's succeeded runs of these labs (one query), newest first."""
    if not lab_ids:
        return []
    if _lab_runs is not None:
        return list(_lab_runs(user, lab_ids))
    run = _model("labs", "Run")
    if run is None:
        return []
    user_field = _field(run, "owner", "user")
    lab_field = _field(run, "lab_id", "lab")
    if user_field is None or lab_field is None or _field(run, "status") is None:
        return []
    rows = run.objects.filter(
        **{user_field: user, f"{lab_field}__in": lab_ids, "status": "succeeded"}
    ).order_by("-pk")[:200]
    return [
        LabRunEvidence(
            lab_id=str(getattr(r, lab_field)),
            run_id=r.pk,
            status=r.status,
            url=_first_reverse(["labs:run", "labs:run_detail"], r.pk),
            finished_at=getattr(r, "finished_at", None),
        )
        for r in rows
    ]
