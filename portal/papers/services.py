"""What people and jobs do with papers: load the core list, sync from arXiv, read, watch, recommend.

Every sync first fetches everything it needs from arXiv and only then writes,
in one transaction: a sync that fails leaves the stored papers untouched and
records its error (with its time) on its `SyncRun`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pgvector.django import CosineDistance

from portal.core.yamlfiles import read_yaml
from portal.curriculum.content import read_content, reading_weeks
from portal.papers.arxiv_api import (
    ArxivClient,
    ArxivError,
    ArxivRecord,
    fetch_by_ids,
    parse_arxiv_ref,
    search_arxiv,
)
from portal.papers.embeddings import embed_passages, paper_text, text_digest
from portal.papers.models import (
    CORE_GOAL,
    Domain,
    InboxItem,
    Paper,
    PaperVersion,
    Reading,
    ReadingStatus,
    SyncKind,
    SyncRun,
    SyncStatus,
    WatchQuery,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

CORE_DATA = Path(__file__).resolve().parent / "data" / "core_papers.yaml"
# A queued or running core sync younger than this blocks a second one.
SYNC_IN_PROGRESS_WINDOW = timedelta(minutes=15)
MAX_TAGS = 20
TAG_RE = re.compile(r"^[\w\-+.# ]{1,40}$")


class PaperNotFound(Exception):
    """arXiv has no paper with this id."""


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"sync #{run.pk} is already {run.status}")
        self.run = run


# --- the core list ---------------------------------------------------------------------


# The data file's list of papers the curriculum reads beyond the core list.
FURTHER_KEY = "further"
_CORE_KEYS = {"arxiv_id", "short", "priority", "lab"}


@dataclass(frozen=True)
class CoreEntry:
    arxiv_id: str
    short_name: str
    domain: str
    priority: int
    # Derived: the curriculum weeks whose readings cite the paper (never from the data file).
    weeks: list[int]
    lab_id: str
    order: int


@dataclass(frozen=True)
class PaperData:
    """What the data file says: the core list and the further papers the curriculum reads."""

    core: list[CoreEntry]
    further: dict[str, str]  # arXiv id -> short name

    @property
    def known_ids(self) -> set[str]:
        return {entry.arxiv_id for entry in self.core} | set(self.further)


def curriculum_reading_weeks() -> dict[str, list[int]]:
    """arXiv id -> the weeks whose readings cite it, from the curriculum's content files."""
    return reading_weeks(read_content())


def _arxiv_id(path: Path, item: dict[str, Any]) -> str:
    arxiv_id, version = parse_arxiv_ref(str(item["arxiv_id"]))
    if version is not None:
        raise ValueError(f"{path.name}: give {arxiv_id} without a version")
    return arxiv_id


def read_paper_data(
    path: Path = CORE_DATA, *, weeks: dict[str, list[int]] | None = None
) -> PaperData:
    """The data file, validated, with each core paper's weeks derived from the curriculum.

    `weeks` (arXiv id -> weeks) defaults to the curriculum's readings; a `weeks` key in the
    data file is refused, so the weeks have exactly one source.
    """
    if weeks is None:
        weeks = curriculum_reading_weeks()
    raw = read_yaml(path)
    entries: list[CoreEntry] = []
    further: dict[str, str] = {}
    for domain, items in raw.items():
        if domain == FURTHER_KEY:
            for item in items:
                further[_arxiv_id(path, item)] = str(item.get("short", ""))
            continue
        if domain not in Domain.values:
            raise ValueError(f"{path.name}: unknown domain {domain!r}")
        for item in items:
            arxiv_id = _arxiv_id(path, item)
            extra = sorted(set(item) - _CORE_KEYS)
            if extra:
                raise ValueError(
                    f"{path.name}: {arxiv_id} has unknown keys {extra} (a paper's weeks "
                    "come from the curriculum readings that cite it)"
                )
            priority = int(item.get("priority", 3))
            if not 1 <= priority <= 5:
                raise ValueError(f"{path.name}: priority of {arxiv_id} must be 1..5")
            entries.append(
                CoreEntry(
                    arxiv_id=arxiv_id,
                    short_name=str(item.get("short", "")),
                    domain=domain,
                    priority=priority,
                    weeks=list(weeks.get(arxiv_id, [])),
                    lab_id=str(item.get("lab", "") or ""),
                    order=len(entries) + 1,
                )
            )
    ids = [entry.arxiv_id for entry in entries] + list(further)
    if len(set(ids)) != len(ids) or len(further) != sum(
        len(items) for domain, items in raw.items() if domain == FURTHER_KEY
    ):
        raise ValueError(f"{path.name}: an arXiv id is listed twice")
    data = PaperData(core=entries, further=further)
    unknown = sorted(set(weeks) - data.known_ids)
    if unknown:
        raise ValueError(
            f"the curriculum reads papers {path.name} does not know: {unknown} "
            f"(add them to the core list or to `{FURTHER_KEY}`)"
        )
    return data


def read_core_list(path: Path = CORE_DATA) -> list[CoreEntry]:
    """The study plan's core papers from the data file, validated, weeks derived."""
    return read_paper_data(path).core


@functools.cache
def core_ids() -> frozenset[str]:
    """The core list's arXiv ids (the data file only; cached for link building)."""
    return frozenset(entry.arxiv_id for entry in read_paper_data(weeks={}).core)


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    demoted: int


@transaction.atomic
def load_core_papers(
    *, path: Path = CORE_DATA, weeks: dict[str, list[int]] | None = None
) -> LoadResult:
    """Make the stored core list match the data file. Never talks to arXiv; cheap to re-run.

    Each paper's `curriculum_weeks` are the weeks whose readings cite it (`weeks`, by
    default from the curriculum's content files). arXiv metadata already synced is kept;
    a paper dropped from the file stops being core but stays in the libraries that hold it.
    """
    if weeks is None:
        weeks = curriculum_reading_weeks()
    entries = read_paper_data(path, weeks=weeks).core
    existing = {
        paper.arxiv_id: paper
        for paper in Paper.objects.filter(arxiv_id__in=[entry.arxiv_id for entry in entries])
    }
    created = updated = unchanged = 0
    for entry in entries:
        wanted = {
            "is_core": True,
            "core_order": entry.order,
            "short_name": entry.short_name,
            "domain": entry.domain,
            "priority": entry.priority,
            "curriculum_weeks": entry.weeks,
            "lab_id": entry.lab_id,
        }
        paper = existing.get(entry.arxiv_id)
        if paper is None:
            Paper.objects.create(arxiv_id=entry.arxiv_id, **wanted)
            created += 1
            continue
        changed = [name for name, value in wanted.items() if getattr(paper, name) != value]
        if changed:
            for name in changed:
                setattr(paper, name, wanted[name])
            paper.save(update_fields=changed)
            updated += 1
        else:
            unchanged += 1
    demoted = (
        Paper.objects.core()
        .exclude(arxiv_id__in=[entry.arxiv_id for entry in entries])
        .update(is_core=False, core_order=0)
    )
    set_curriculum_weeks(weeks=weeks)
    return LoadResult(created=created, updated=updated, unchanged=unchanged, demoted=demoted)


def set_curriculum_weeks(*, weeks: dict[str, list[int]]) -> int:
    """Store on every paper the weeks whose readings cite it ([] when none does).

    Covers papers outside the core list too (a reader who added PPO sees its week).
    Only rows whose weeks change are written; returns how many.
    """
    changed = 0
    stale = Paper.objects.filter(
        models.Q(arxiv_id__in=list(weeks)) | ~models.Q(curriculum_weeks=[])
    ).only("pk", "arxiv_id", "curriculum_weeks")
    for paper in stale:
        wanted = list(weeks.get(paper.arxiv_id, []))
        if paper.curriculum_weeks != wanted:
            paper.curriculum_weeks = wanted
            paper.save(update_fields=["curriculum_weeks"])
            changed += 1
    return changed


# --- syncing from arXiv ------------------------------------------------------------------


def _apply_record(paper: Paper, record: ArxivRecord, now: Any) -> tuple[bool, bool]:
    """Copy arXiv's metadata onto `paper` (unsaved rows are saved). Returns (changed, new_version)."""
    new_version = bool(
        paper.version is not None and record.version is not None and record.version > paper.version
    )
    wanted = {
        "title": record.title,
        "authors": record.authors,
        "abstract": record.abstract,
        "primary_category": record.primary_category,
        "categories": record.categories,
        "comment": record.comment,
        "journal_ref": record.journal_ref,
        "doi": record.doi[:200],
        "pdf_url": record.pdf_url[:300],
        "published": record.published,
        "updated": record.updated,
        "version": record.version,
    }
    if paper.pk is None:
        for name, value in wanted.items():
            setattr(paper, name, value)
        paper.synced_at = now
        paper.save()
        changed_fields = list(wanted)
    else:
        changed_fields = [name for name, value in wanted.items() if getattr(paper, name) != value]
        for name in changed_fields:
            setattr(paper, name, wanted[name])
        paper.synced_at = now
        paper.save(update_fields=[*changed_fields, "synced_at"])
    if record.version is not None:
        PaperVersion.objects.get_or_create(
            paper=paper,
            version=record.version,
            defaults={"updated": record.updated, "seen_at": now},
        )
    return bool(changed_fields), new_version


def _store_records(records: Iterable[ArxivRecord], run: SyncRun) -> list[Paper]:
    """Upsert fetched records; counts go on `run`. Call inside a transaction."""
    now = timezone.now()
    records = list(records)
    existing = {
        paper.arxiv_id: paper
        for paper in Paper.objects.select_for_update().filter(
            arxiv_id__in=[record.arxiv_id for record in records]
        )
    }
    papers: list[Paper] = []
    for record in records:
        paper = existing.get(record.arxiv_id) or Paper(arxiv_id=record.arxiv_id)
        changed, new_version = _apply_record(paper, record, now)
        run.changed += int(changed)
        run.new_versions += int(new_version)
        papers.append(paper)
    run.fetched = len(records)
    return papers


def _finish(run: SyncRun, *, error: str = "") -> SyncRun:
    run.status = SyncStatus.FAILED if error else SyncStatus.OK
    run.error = error
    run.finished_at = timezone.now()
    run.save()
    return run


def _queue_embeddings(papers: Iterable[Paper]) -> None:
    from portal.papers.tasks import embed_papers_task

    ids = [paper.pk for paper in papers]
    if ids:
        transaction.on_commit(lambda: embed_papers_task.delay(ids))


def sync_papers(
    *,
    run: SyncRun | None = None,
    arxiv_ids: list[str] | None = None,
    requested_by: AbstractBaseUser | None = None,
    client: ArxivClient | None = None,
    on_record: Callable[[ArxivRecord], None] | None = None,
) -> SyncRun:
    """Fetch papers by id (the whole core list by default) in one batched query and store them.

    Ids arXiv does not know are listed in `run.missing`. On any arXiv failure the run is
    marked failed with the error and no paper is touched.
    """
    if run is None:
        kind = SyncKind.IDS if arxiv_ids else SyncKind.CORE
        run = SyncRun.objects.create(kind=kind, requested_by=requested_by)
    ids = (
        arxiv_ids or run.arxiv_ids or list(Paper.objects.core().values_list("arxiv_id", flat=True))
    )
    run.arxiv_ids = sorted(set(ids))
    run.status = SyncStatus.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["arxiv_ids", "status", "started_at"])
    try:
        records = fetch_by_ids(run.arxiv_ids, client=client, on_record=on_record)
    except ArxivError as err:
        return _finish(run, error=str(err))
    with transaction.atomic():
        papers = _store_records(records.values(), run)
        run.missing = [arxiv_id for arxiv_id in run.arxiv_ids if arxiv_id not in records]
        _finish(run)
        _queue_embeddings(papers)
    return run


def request_core_sync(*, user: AbstractBaseUser | None) -> SyncRun:
    """Queue a sync of the core list on the worker; refuses while one is queued or running."""
    from portal.papers.tasks import sync_papers_task

    recent = timezone.now() - SYNC_IN_PROGRESS_WINDOW
    with transaction.atomic():
        running = SyncRun.objects.core().in_progress().filter(created_at__gte=recent).first()
        if running is not None:
            raise SyncAlreadyRunning(running)
        run = SyncRun.objects.create(kind=SyncKind.CORE, requested_by=user)
        transaction.on_commit(lambda: sync_papers_task.delay(run.pk))
    return run


def add_paper(*, user: AbstractBaseUser, ref: str, client: ArxivClient | None = None) -> Reading:
    """Put a paper, by arXiv id or URL, into this person's library, fetching it when new.

    Raises ValueError for a malformed reference, PaperNotFound when arXiv does not know
    the id, ArxivError when arXiv cannot be asked.
    """
    arxiv_id, _version = parse_arxiv_ref(ref)
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    if paper is None or not paper.is_synced:
        run = sync_papers(arxiv_ids=[arxiv_id], requested_by=user, client=client)
        if run.status == SyncStatus.FAILED:
            raise ArxivError(run.error)
        if arxiv_id in run.missing:
            raise PaperNotFound(arxiv_id)
        paper = Paper.objects.get(arxiv_id=arxiv_id)
    reading, _created = Reading.objects.get_or_create(user=user, paper=paper)
    InboxItem.objects.for_user(user).pending().filter(paper=paper).update(
        dismissed_at=timezone.now()
    )
    return reading


# --- reading -----------------------------------------------------------------------------


def clean_tags(raw: Iterable[str] | str) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, deduplicated, validated."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for item in items:
        tag = " ".join(str(item).split())
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise ValueError(
                _("Tag %(tag)s may hold letters, digits, spaces and - + . # _ only.")
                % {"tag": repr(tag[:40])}
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(_("At most %(n)d tags.") % {"n": MAX_TAGS})
    return tags


_UNSET: Any = object()


@transaction.atomic
def update_reading(
    *,
    user: AbstractBaseUser,
    paper: Paper,
    status: str = _UNSET,
    rating: int | None = _UNSET,
    notes: str = _UNSET,
    tags: list[str] = _UNSET,
) -> Reading:
    """Set any of status, rating (1-5 or None), notes (Markdown) and tags; untouched fields stay.

    Marking a paper read records when and which arXiv version was read.
    """
    reading, _created = Reading.objects.select_for_update().get_or_create(user=user, paper=paper)
    fields: list[str] = []
    if status is not _UNSET:
        status = ReadingStatus(status)
        if status != reading.status:
            reading.status = status
            fields.append("status")
            if status == ReadingStatus.READ:
                reading.read_at = timezone.now()
                reading.read_version = paper.version
            else:
                reading.read_at = None
                reading.read_version = None
            fields += ["read_at", "read_version"]
    if rating is not _UNSET:
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValueError(_("The rating must be between 1 and 5."))
        reading.rating = rating
        fields.append("rating")
    if notes is not _UNSET:
        reading.notes = notes
        fields.append("notes")
    if tags is not _UNSET:
        reading.tags = clean_tags(tags)
        fields.append("tags")
    if fields:
        reading.save(update_fields=[*fields, "updated_at"])
    return reading


def papers_read_count(user: AbstractBaseUser) -> int:
    """How many papers (core or not) this person has marked read."""
    if not user.is_authenticated:
        return 0
    return Reading.objects.for_user(user).read().count()


def read_arxiv_ids(user: AbstractBaseUser) -> set[str]:
    """arXiv ids this person has marked read (one query): the curriculum's evidence."""
    if not user.is_authenticated:
        return set()
    return set(Reading.objects.for_user(user).read().values_list("paper__arxiv_id", flat=True))


@dataclass(frozen=True)
class CoreProgress:
    read: int
    total: int
    goal: int

    @property
    def percent_of_goal(self) -> int:
        return min(100, round(100 * self.read / self.goal)) if self.goal else 100

    @property
    def goal_reached(self) -> bool:
        return self.read >= self.goal


def core_progress(user: AbstractBaseUser) -> CoreProgress:
    """ "Read N of 28 core, goal 20"."""
    read = Reading.objects.for_user(user).read().filter(paper__is_core=True).count()
    return CoreProgress(read=read, total=Paper.objects.core().count(), goal=CORE_GOAL)


# --- watch queries and the inbox -----------------------------------------------------------


def validate_arxiv_query(query: str) -> str:
    """A light check of an arXiv search query: non-empty, balanced quotes and parentheses."""
    query = " ".join((query or "").split())
    if not query:
        raise ValueError(_("The query is empty."))
    if len(query) > 500:
        raise ValueError(_("The query is longer than 500 characters."))
    if query.count('"') % 2:
        raise ValueError(_("The query has an unbalanced quote."))
    depth = 0
    for char in query:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(_("The query has unbalanced parentheses."))
    return query


def create_watch(
    *, user: AbstractBaseUser, name: str, query: str, max_results: int = 25
) -> WatchQuery:
    query = validate_arxiv_query(query)
    if not 1 <= max_results <= 200:
        raise ValueError(_("Results per run must be between 1 and 200."))
    if WatchQuery.objects.filter(user=user, query=query).exists():
        raise ValueError(_("You already watch this query."))
    return WatchQuery.objects.create(
        user=user, name=(name or query)[:100], query=query, max_results=max_results
    )


def run_watch_query(*, watch: WatchQuery, client: ArxivClient | None = None) -> SyncRun:
    """Fetch the newest results of one watch query; papers new to its owner go to their inbox."""
    run = SyncRun.objects.create(
        kind=SyncKind.WATCH,
        watch=watch,
        requested_by=watch.user,
        status=SyncStatus.RUNNING,
        started_at=timezone.now(),
    )
    try:
        records = search_arxiv(watch.query, max_results=watch.max_results, client=client)
    except ArxivError as err:
        _finish(run, error=str(err))
        watch.last_run_at = run.finished_at
        watch.last_error = str(err)
        watch.save(update_fields=["last_run_at", "last_error"])
        return run
    with transaction.atomic():
        papers = _store_records(records, run)
        known = set(Reading.objects.for_user(watch.user).values_list("paper_id", flat=True)) | set(
            InboxItem.objects.for_user(watch.user).values_list("paper_id", flat=True)
        )
        fresh = [paper for paper in papers if paper.pk not in known and not paper.is_core]
        arrived = timezone.now()  # one time per run, so the inbox orders a run by submission
        InboxItem.objects.bulk_create(
            [
                InboxItem(user=watch.user, paper=paper, watch=watch, created_at=arrived)
                for paper in fresh
            ],
            ignore_conflicts=True,
        )
        _finish(run)
        watch.last_run_at = run.finished_at
        watch.last_success_at = run.finished_at
        watch.last_error = ""
        watch.last_new_count = len(fresh)
        watch.save(update_fields=["last_run_at", "last_success_at", "last_error", "last_new_count"])
        _queue_embeddings(papers)
    return run


def run_watch_queries(
    *,
    watches: Iterable[WatchQuery] | None = None,
    client: ArxivClient | None = None,
    on_done: Callable[[WatchQuery, SyncRun], None] | None = None,
) -> list[SyncRun]:
    """Run every active watch query (or the given ones) through one client, keeping arXiv's spacing."""
    client = client or ArxivClient()
    runs = []
    for watch in watches if watches is not None else WatchQuery.objects.active():
        run = run_watch_query(watch=watch, client=client)
        runs.append(run)
        if on_done is not None:
            on_done(watch, run)
    return runs


def accept_inbox_item(*, item: InboxItem) -> Reading:
    """Move an inbox paper into the library (to read)."""
    with transaction.atomic():
        reading, _created = Reading.objects.get_or_create(user=item.user, paper=item.paper)
        item.dismissed_at = timezone.now()
        item.save(update_fields=["dismissed_at"])
    return reading


def dismiss_inbox_item(*, item: InboxItem) -> None:
    item.dismissed_at = timezone.now()
    item.save(update_fields=["dismissed_at"])


# --- embeddings and recommendations ----------------------------------------------------------


def embed_papers(*, paper_ids: Iterable[int] | None = None, batch_size: int = 16) -> int:
    """Embed title + abstract of synced papers whose text changed since their last embedding."""
    papers = Paper.objects.exclude(title="")
    if paper_ids is not None:
        papers = papers.filter(pk__in=list(paper_ids))
    todo = [
        (paper, text_digest(paper_text(paper)))
        for paper in papers.only("pk", "title", "abstract", "embedding_source")
    ]
    todo = [(paper, digest) for paper, digest in todo if paper.embedding_source != digest]
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors = embed_passages([paper_text(paper) for paper, _digest in batch])
        for (paper, digest), vector in zip(batch, vectors, strict=True):
            Paper.objects.filter(pk=paper.pk).update(embedding=vector, embedding_source=digest)
    return len(todo)


def recommend_papers(*, user: AbstractBaseUser, limit: int = 10) -> list[Paper]:
    """Unread papers nearest to what this person rated 4 or 5 (5 counts double).

    Candidates are the core list, the person's library and inbox; each paper gets a
    `similarity` attribute in [-1, 1].
    """
    liked = list(
        Reading.objects.for_user(user)
        .highly_rated()
        .filter(paper__embedding__isnull=False)
        .values_list("paper_id", "paper__embedding", "rating")
    )
    if not liked:
        return []
    weights = np.array([rating - 3 for _pk, _vector, rating in liked], dtype=np.float32)
    vectors = np.stack([np.asarray(vector, dtype=np.float32) for _pk, vector, _rating in liked])
    centroid = (weights[:, None] * vectors).sum(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    papers = list(
        Paper.objects.visible_to(user)
        .unfinished_for(user)
        .filter(embedding__isnull=False)
        .exclude(pk__in=[pk for pk, _vector, _rating in liked])
        .annotate(distance=CosineDistance("embedding", centroid.tolist()))
        .order_by("distance", "arxiv_id")[:limit]
    )
    for paper in papers:
        paper.similarity = 1.0 - float(paper.distance)  # type: ignore[attr-defined]
    return papers


# --- BibTeX --------------------------------------------------------------------------------

_BIBTEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\~{}",
    "^": r"\^{}",
}


def _bibtex_escape(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}").replace("{", "").replace("}", "")
    return "".join(_BIBTEX_SPECIAL.get(char, char) for char in text)


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


_STOPWORDS = {"a", "an", "the", "on", "of", "for", "in", "to", "and", "is", "with", "via"}


def bibtex_key(paper: Paper) -> str:
    last_name = _ascii_word(paper.authors[0].split()[-1]) if paper.authors else "arxiv"
    year = str(paper.published.year) if paper.published else ""
    words = [_ascii_word(word) for word in paper.display_title.split()]
    first = next((word for word in words if word and word not in _STOPWORDS), "")
    return f"{last_name or 'arxiv'}{year}{first}" or paper.arxiv_id.replace("/", "")


def export_bibtex(papers: Iterable[Paper]) -> str:
    """One @misc entry per paper in arXiv's recommended form; keys are made unique."""
    entries: list[str] = []
    used: set[str] = set()
    for paper in papers:
        key = base = bibtex_key(paper)
        suffix = ord("a")
        while key in used:
            key = f"{base}{chr(suffix)}"
            suffix += 1
        used.add(key)
        fields = [
            ("title", "{" + _bibtex_escape(paper.display_title) + "}"),
            ("author", " and ".join(_bibtex_escape(name) for name in paper.authors)),
            ("year", str(paper.published.year) if paper.published else ""),
            ("eprint", paper.arxiv_id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", paper.primary_category),
            ("doi", paper.doi),
            ("url", paper.abs_url),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(entries)
