from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.htmx import HtmxHttpRequest
from portal.core.pagecache import cached_page
from portal.papers.arxiv_api import ArxivError
from portal.papers.forms import AddPaperForm, LibraryFilterForm, ReadingForm, WatchForm
from portal.papers.models import InboxItem, Paper, Reading, SyncRun, WatchQuery
from portal.papers.services import (
    PaperNotFound,
    SyncAlreadyRunning,
    accept_inbox_item,
    add_paper,
    core_progress,
    create_watch,
    dismiss_inbox_item,
    export_bibtex,
    recommend_papers,
    request_core_sync,
    update_reading,
)

PAGE_SIZE = 30


# --- access helpers ---------------------------------------------------------------------


def _get_paper_for_user(request: HttpRequest, arxiv_id: str) -> Paper:
    paper = (
        Paper.objects.visible_to(request.user)
        .with_reading(request.user)
        .filter(arxiv_id=arxiv_id)
        .first()
    )
    if paper is None:
        raise Http404("No such paper in your library")
    return paper


def _get_inbox_item_for_user(request: HttpRequest, pk: int) -> InboxItem:
    item = (
        InboxItem.objects.for_user(request.user)
        .pending()
        .select_related("paper")
        .filter(pk=pk)
        .first()
    )
    if item is None:
        raise Http404("No such inbox item")
    return item


def _get_watch_for_user(request: HttpRequest, pk: int) -> WatchQuery:
    watch = WatchQuery.objects.filter(user=request.user, pk=pk).first()
    if watch is None:
        raise Http404("No such watch query")
    return watch


# --- the library ------------------------------------------------------------------------


def _sync_context() -> dict[str, Any]:
    summary = SyncRun.objects.core().latest_summary()
    latest = summary["latest"]
    return {
        "sync": summary,
        "sync_in_progress": latest is not None and not latest.is_finished,
    }


def _library_context(request: HttpRequest, form: LibraryFilterForm) -> dict[str, Any]:
    papers = (
        Paper.objects.library(request.user).with_reading(request.user).filtered(**form.filters())
    )
    page = Paginator(papers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "papers": page.object_list, "filter_query": query.urlencode()}


def _index_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    form = LibraryFilterForm(request.GET or None)
    return {
        "filter_form": form,
        "add_form": AddPaperForm(),
        "progress": core_progress(request.user),
        "inbox_count": InboxItem.objects.for_user(request.user).pending().count(),
        "tags": Reading.objects.for_user(request.user).tag_counts()[:30],
        **_library_context(request, form),
        **_sync_context(),
        **extra,
    }


@require_GET
@login_required
@cached_page
def index(request: HtmxHttpRequest) -> HttpResponse:
    template = "papers/index.html"
    if request.htmx and request.htmx.target == "paper-list":
        template += "#library"
    return render(request, template, _index_context(request))


@require_GET
@login_required
def sync_status(request: HtmxHttpRequest) -> HttpResponse:
    context = _sync_context()
    response = render(request, "papers/index.html#sync-status", context)
    if request.htmx and request.GET.get("was") == "running" and not context["sync_in_progress"]:
        response["HX-Refresh"] = "true"  # the sync just finished: show the new titles
    return response


@require_POST
@login_required
def sync(request: HtmxHttpRequest) -> HttpResponse:
    try:
        request_core_sync(user=request.user)
    except SyncAlreadyRunning:
        messages.info(request, _("A sync is already running."))
    else:
        messages.success(request, _("Sync queued: the core list is being fetched from arXiv."))
    if request.htmx:
        return render(request, "papers/index.html#sync-status", _sync_context())
    return redirect("papers:index")


@require_POST
@login_required
def add(request: HtmxHttpRequest) -> HttpResponse:
    form = AddPaperForm(request.POST)
    status = HTTPStatus.BAD_REQUEST
    if form.is_valid():
        try:
            reading = add_paper(user=request.user, ref=form.cleaned_data["ref"])
        except PaperNotFound as exc:
            form.add_error("ref", _("arXiv has no paper %(id)s.") % {"id": exc})
            status = HTTPStatus.NOT_FOUND
        except ArxivError as exc:
            form.add_error("ref", _("arXiv could not be reached: %(error)s") % {"error": exc})
            status = HTTPStatus.BAD_GATEWAY
        else:
            messages.success(request, _("Added to your library."))
            return redirect(reading.paper)
    return render(
        request, "papers/index.html", _index_context(request, add_form=form), status=status
    )


@require_GET
@login_required
def export(request: HttpRequest) -> HttpResponse:
    """BibTeX of the selected papers (`ids`), or of the library as filtered."""
    papers = Paper.objects.library(request.user).with_reading(request.user)
    ids = [value for value in request.GET.getlist("ids") if value]
    if ids:
        papers = papers.filter(arxiv_id__in=ids)
    else:
        papers = papers.filtered(**LibraryFilterForm(request.GET or None).filters())
    response = HttpResponse(
        export_bibtex(papers), content_type="application/x-bibtex; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="papers.bib"'
    return response


# --- one paper ----------------------------------------------------------------------------


def _reading_form(paper: Paper, reading: Reading | None) -> ReadingForm:
    if reading is None:
        return ReadingForm(initial={"status": paper.my_status})  # type: ignore[attr-defined]
    return ReadingForm(
        initial={
            "status": reading.status,
            "rating": reading.rating or "",
            "tags": ", ".join(reading.tags),
            "notes": reading.notes,
        }
    )


def _detail_context(request: HttpRequest, paper: Paper, **extra: Any) -> dict[str, Any]:
    reading = Reading.objects.for_user(request.user).filter(paper=paper).first()
    inbox_item = InboxItem.objects.for_user(request.user).pending().filter(paper=paper).first()
    return {
        "paper": paper,
        "reading": reading,
        "form": _reading_form(paper, reading),
        "versions": list(paper.versions.all()),
        "inbox_item": inbox_item,
        "in_library": paper.is_core or reading is not None,
        **extra,
    }


@require_GET
@login_required
def detail(request: HttpRequest, arxiv_id: str) -> HttpResponse:
    paper = _get_paper_for_user(request, arxiv_id)
    return render(request, "papers/detail.html", _detail_context(request, paper))


@require_POST
@login_required
def reading(request: HtmxHttpRequest, arxiv_id: str) -> HttpResponse:
    paper = _get_paper_for_user(request, arxiv_id)
    form = ReadingForm(request.POST)
    template = "papers/detail.html#reading" if request.htmx else "papers/detail.html"
    if not form.is_valid():
        context = _detail_context(request, paper)
        context["form"] = form
        return render(request, template, context, status=HTTPStatus.BAD_REQUEST)
    update_reading(
        user=request.user,
        paper=paper,
        status=form.cleaned_data["status"],
        rating=form.cleaned_data["rating"],
        notes=form.cleaned_data["notes"],
        tags=form.cleaned_data["tags"],
    )
    if not request.htmx:
        messages.success(request, _("Saved."))
        return redirect(paper)
    paper = _get_paper_for_user(request, arxiv_id)
    return render(request, template, _detail_context(request, paper, saved=True))


# --- inbox, watch queries, recommendations ----------------------------------------------------


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    items = InboxItem.objects.for_user(request.user).pending().select_related("paper", "watch")
    return render(request, "papers/inbox.html", {"items": items})


@require_POST
@login_required
def inbox_accept(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _get_inbox_item_for_user(request, pk)
    accept_inbox_item(item=item)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Added to your library."))
    return redirect("papers:inbox")


@require_POST
@login_required
def inbox_dismiss(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _get_inbox_item_for_user(request, pk)
    dismiss_inbox_item(item=item)
    if request.htmx:
        return HttpResponse("")
    return redirect("papers:inbox")


def _watches_page(
    request: HttpRequest, form: WatchForm, status: int = HTTPStatus.OK
) -> HttpResponse:
    watches = WatchQuery.objects.filter(user=request.user)
    return render(request, "papers/watches.html", {"watches": watches, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def watches(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _watches_page(request, WatchForm())
    form = WatchForm(request.POST)
    if form.is_valid():
        try:
            create_watch(
                user=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                max_results=form.cleaned_data["max_results"],
            )
        except ValueError as exc:
            form.add_error("query", str(exc))
        else:
            messages.success(request, _("Watch query saved; it runs with the next periodic sync."))
            return redirect("papers:watches")
    return _watches_page(request, form, status=HTTPStatus.BAD_REQUEST)


@require_POST
@login_required
def watch_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _get_watch_for_user(request, pk).delete()
    messages.success(request, _("Watch query deleted."))
    return redirect("papers:watches")


@require_POST
@login_required
def watch_run(request: HttpRequest, pk: int) -> HttpResponse:
    from django.db import transaction

    from portal.papers.tasks import run_watch_query_task

    watch = _get_watch_for_user(request, pk)
    transaction.on_commit(lambda: run_watch_query_task.delay(watch.pk))
    messages.success(request, _("Watch query queued; new results will appear in your inbox."))
    return redirect("papers:watches")


@require_GET
@login_required
def recommendations(request: HttpRequest) -> HttpResponse:
    papers = recommend_papers(user=request.user, limit=20)
    return render(request, "papers/recommendations.html", {"papers": papers})


def dashboard_panel_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "progress": core_progress(request.user),
        "inbox_count": InboxItem.objects.for_user(request.user).pending().count(),
    }
