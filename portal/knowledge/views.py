from __future__ import annotations

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.core.htmx import HtmxHttpRequest
from portal.knowledge import services
from portal.knowledge.answering import answer_question
from portal.knowledge.forms import AskForm, UploadForm
from portal.knowledge.models import Document, DocumentStatus
from portal.knowledge.throttle import ask_retry_after


def _get_document_for_user(request: HttpRequest, pk: int) -> Document:
    doc = Document.objects.visible_to(request.user).filter(pk=pk).first()
    if doc is None:
        raise Http404(_("No such document."))
    return doc


def _documents_context(request: HttpRequest) -> dict[str, object]:
    docs = list(Document.objects.visible_to(request.user))
    busy = any(DocumentStatus(d.status).is_busy for d in docs)
    ready, total = services.indexing_progress()
    return {"documents": docs, "busy": busy, "indexed": ready, "to_index": total}


def moved_kb_api(request: HttpRequest, rest: str) -> HttpResponse:
    """/api/feishu/kb/... (the old spelling) answers 308 to /api/kb/...: method and body kept."""
    query = request.META.get("QUERY_STRING", "")
    target = f"/api/kb/{rest}" + (f"?{query}" if query else "")
    return HttpResponsePermanentRedirect(target, preserve_request=True)


def dashboard_panel(request: HttpRequest) -> dict[str, object]:
    docs = Document.objects.visible_to(request.user)
    return {"total": docs.count(), "ready": docs.filter(status=DocumentStatus.READY).count()}


@require_GET
@login_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    """The knowledge base: ask box, indexing progress, documents (live status), upload."""
    ask_form = AskForm(request.GET or None)
    answer = None
    status = HTTPStatus.OK
    if ask_form.is_bound and ask_form.is_valid():
        retry_after = ask_retry_after(f"user:{request.user.pk}")
        if retry_after:
            ask_form.add_error(
                "q", _("Too many questions; try again in %(s)d s.") % {"s": retry_after}
            )
            status = HTTPStatus.TOO_MANY_REQUESTS
        else:
            source = ask_form.cleaned_data["source"]
            answer = answer_question(
                ask_form.cleaned_data["q"], user=request.user, sources=[source] if source else None
            )
    context = {
        "ask_form": ask_form,
        "answer": answer,
        "upload_form": UploadForm(),
        **_documents_context(request),
    }
    if request.htmx and request.htmx.target == "kb-documents":
        return render(request, "knowledge/index.html#documents", context)
    if request.htmx and request.htmx.target == "kb-answer":
        return render(request, "knowledge/index.html#answer", context, status=status)
    response = render(request, "knowledge/index.html", context, status=status)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        response["Retry-After"] = str(retry_after)
    return response


@require_POST
@login_required
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        file = form.cleaned_data["file"]
        try:
            doc, queued = services.add_upload(
                owner=request.user,
                filename=file.name,
                data=services.read_upload(file),
                title=form.cleaned_data["title"],
            )
        except services.KnowledgeError as exc:
            form.add_error("file", str(exc))
        else:
            if queued:
                messages.success(
                    request, _("“%(title)s” is being embedded.") % {"title": doc.title}
                )
            else:
                messages.info(request, _("“%(title)s” is unchanged.") % {"title": doc.title})
            return redirect("knowledge:index")
    context = {
        "ask_form": AskForm(),
        "answer": None,
        "upload_form": form,
        **_documents_context(request),
    }
    return render(request, "knowledge/index.html", context, status=HTTPStatus.BAD_REQUEST)


@require_GET
@login_required
def document(request: HttpRequest, pk: int) -> HttpResponse:
    doc = _get_document_for_user(request, pk)
    return render(request, "knowledge/document.html", {"document": doc, "chunks": doc.chunks.all()})


@require_POST
@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    doc = _get_document_for_user(request, pk)
    if doc.owner_id != request.user.pk:
        return HttpResponse(
            _("Shared documents cannot be deleted here."), status=HTTPStatus.FORBIDDEN
        )
    services.delete_document(document=doc)
    messages.success(request, _("Document deleted."))
    return redirect("knowledge:index")
