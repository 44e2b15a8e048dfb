"""/api/papers/: the library, reading status, adding by arXiv id, syncs, watch queries, inbox."""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field

from portal.core.schemas import ErrorOut
from portal.papers.arxiv_api import ArxivError
from portal.papers.models import InboxItem, Paper, Reading, SyncRun, WatchQuery
from portal.papers.schemas import (
    AddPaperIn,
    DomainValue,
    InboxItemOut,
    PaperDetailOut,
    PaperOut,
    ProgressOut,
    RecommendationOut,
    StatusIn,
    StatusValue,
    SyncOut,
    WatchIn,
    WatchOut,
)
from portal.papers.services import (
    PaperNotFound,
    SyncAlreadyRunning,
    accept_inbox_item,
    add_paper,
    core_progress,
    create_watch,
    dismiss_inbox_item,
    export_bibtex,
    papers_read_count,
    recommend_papers,
    request_core_sync,
    update_reading,
)

router = Router()


class PaperFilters(Schema):
    domain: DomainValue | None = None
    status: StatusValue | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    tag: str = Field(default="", max_length=40)
    q: str = Field(default="", max_length=200)


class ExportFilters(PaperFilters):
    ids: list[str] = Field(default_factory=list, max_length=500)


class RecommendationQuery(Schema):
    limit: int = Field(default=10, ge=1, le=50)


def _not_found(what: str) -> Status:
    return Status(HTTPStatus.NOT_FOUND, {"detail": f"No such {what}"})


def _paper_for(request: HttpRequest, arxiv_id: str) -> Paper | None:
    return (
        Paper.objects.visible_to(request.user)
        .with_reading(request.user)
        .filter(arxiv_id=arxiv_id)
        .first()
    )


def _detail(request: HttpRequest, paper: Paper) -> dict:
    reading = (
        Reading.objects.for_user(request.user).filter(paper=paper).select_related("paper").first()
    )
    data = PaperOut.model_validate(paper).model_dump()
    data.update(
        abstract=paper.abstract,
        primary_category=paper.primary_category,
        categories=paper.categories,
        comment=paper.comment,
        doi=paper.doi,
        synced_at=paper.synced_at,
        versions=list(paper.versions.all()),
        reading=reading
        and {
            "status": reading.status,
            "rating": reading.rating,
            "notes": reading.notes,
            "tags": reading.tags,
            "read_at": reading.read_at,
            "read_version": reading.read_version,
            "newer_version_since_read": reading.newer_version_since_read,
        },
    )
    return data


# Static paths first: "/inbox" must not be taken for an arXiv id.


@router.get("/progress", response=ProgressOut)
def progress(request: HttpRequest):
    """Core papers read (of 28, goal 20) and all papers read."""
    core = core_progress(request.user)
    return {
        "read": core.read,
        "total": core.total,
        "goal": core.goal,
        "papers_read": papers_read_count(request.user),
    }


@router.post("/sync", response={202: SyncOut, 409: ErrorOut})
def sync(request: HttpRequest):
    """Queue a sync of the core list from arXiv (one batched query on the worker)."""
    try:
        run = request_core_sync(user=request.user)
    except SyncAlreadyRunning as exc:
        return Status(
            HTTPStatus.CONFLICT, {"detail": f"Sync #{exc.run.pk} is already {exc.run.status}"}
        )
    return Status(HTTPStatus.ACCEPTED, run)


@router.get("/sync/{int:sync_id}", response={200: SyncOut, 404: ErrorOut})
def sync_detail(request: HttpRequest, sync_id: int):
    run = SyncRun.objects.exclude(kind="watch").filter(pk=sync_id).first()
    return run if run is not None else _not_found("sync")


@router.get("/export.bib")
def export(request: HttpRequest, filters: Query[ExportFilters]):
    """BibTeX of the given ids, or of the filtered library."""
    papers = Paper.objects.library(request.user).with_reading(request.user)
    if filters.ids:
        papers = papers.filter(arxiv_id__in=filters.ids)
    else:
        papers = papers.filtered(**_filters(filters))
    return HttpResponse(export_bibtex(papers), content_type="application/x-bibtex; charset=utf-8")


@router.get("/recommendations", response=list[RecommendationOut])
def recommendations(request: HttpRequest, query: Query[RecommendationQuery]):
    """Unread papers nearest to the ones rated 4-5 (pgvector cosine over title+abstract embeddings)."""
    return recommend_papers(user=request.user, limit=query.limit)


@router.get("/inbox", response=list[InboxItemOut])
def inbox(request: HttpRequest):
    return InboxItem.objects.for_user(request.user).pending().select_related("paper", "watch")


@router.post("/inbox/{int:item_id}/accept", response={200: PaperOut, 404: ErrorOut})
def inbox_accept(request: HttpRequest, item_id: int):
    item = InboxItem.objects.for_user(request.user).pending().filter(pk=item_id).first()
    if item is None:
        return _not_found("inbox item")
    reading = accept_inbox_item(item=item)
    return _paper_for(request, reading.paper.arxiv_id)


@router.post("/inbox/{int:item_id}/dismiss", response={204: None, 404: ErrorOut})
def inbox_dismiss(request: HttpRequest, item_id: int):
    item = InboxItem.objects.for_user(request.user).pending().filter(pk=item_id).first()
    if item is None:
        return _not_found("inbox item")
    dismiss_inbox_item(item=item)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get("/watches", response=list[WatchOut])
def watches(request: HttpRequest):
    return WatchQuery.objects.filter(user=request.user)


@router.post("/watches", response={201: WatchOut, 400: ErrorOut})
def watch_create(request: HttpRequest, payload: WatchIn):
    """Save an arXiv search; the periodic job puts its new results into your inbox."""
    try:
        watch = create_watch(
            user=request.user,
            name=payload.name,
            query=payload.query,
            max_results=payload.max_results,
        )
    except ValueError as exc:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
    return Status(HTTPStatus.CREATED, watch)


@router.delete("/watches/{int:watch_id}", response={204: None, 404: ErrorOut})
def watch_delete(request: HttpRequest, watch_id: int):
    deleted, _ = WatchQuery.objects.filter(user=request.user, pk=watch_id).delete()
    if not deleted:
        return _not_found("watch query")
    return Status(HTTPStatus.NO_CONTENT, None)


def _filters(filters: PaperFilters) -> dict:
    return {
        "domain": filters.domain or "",
        "status": filters.status or "",
        "priority": filters.priority,
        "tag": filters.tag,
        "q": filters.q,
    }


@router.get("", response=list[PaperOut])
@paginate(LimitOffsetPagination)
def list_papers(request: HttpRequest, filters: Query[PaperFilters]):
    """Your library (the core list plus papers you added), filtered; paginated with limit/offset."""
    return (
        Paper.objects.library(request.user).with_reading(request.user).filtered(**_filters(filters))
    )


@router.post(
    "", response={200: PaperOut, 201: PaperOut, 400: ErrorOut, 404: ErrorOut, 502: ErrorOut}
)
def create_paper(request: HttpRequest, payload: AddPaperIn):
    """Add a paper by arXiv id or URL: fetched from arXiv when new, then put in your library."""
    existed = (
        Reading.objects.for_user(request.user).filter(paper__arxiv_id=payload.arxiv_id).exists()
    )
    try:
        reading = add_paper(user=request.user, ref=payload.arxiv_id)
    except ValueError as exc:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
    except PaperNotFound as exc:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"arXiv has no paper {exc}"})
    except ArxivError as exc:
        return Status(HTTPStatus.BAD_GATEWAY, {"detail": f"arXiv failed: {exc}"})
    paper = _paper_for(request, reading.paper.arxiv_id)
    return Status(HTTPStatus.OK if existed else HTTPStatus.CREATED, paper)


@router.get("/{arxiv_id}", response={200: PaperDetailOut, 404: ErrorOut})
def paper_detail(request: HttpRequest, arxiv_id: str):
    paper = _paper_for(request, arxiv_id)
    if paper is None:
        return _not_found("paper in your library")
    return _detail(request, paper)


@router.put("/{arxiv_id}/status", response={200: PaperDetailOut, 400: ErrorOut, 404: ErrorOut})
def set_status(request: HttpRequest, arxiv_id: str, payload: StatusIn):
    """Set your status, and optionally rating, Markdown notes and tags, for a paper."""
    paper = _paper_for(request, arxiv_id)
    if paper is None:
        return _not_found("paper in your library")
    changes = {name: getattr(payload, name) for name in payload.model_fields_set}
    if changes.get("notes", "") is None:
        changes["notes"] = ""
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    try:
        update_reading(user=request.user, paper=paper, **changes)
    except ValueError as exc:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
    return _detail(request, _paper_for(request, arxiv_id))
