from __future__ import annotations

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.htmx import HtmxHttpRequest
from portal.feishu import conf, services
from portal.feishu.answering import answer_question
from portal.feishu.events import handle_event_request
from portal.feishu.forms import AskForm, NotificationSettingsForm, UploadForm
from portal.feishu.models import Document, DocumentStatus, FeishuBinding, Notification


def _get_document_for_user(request: HttpRequest, pk: int) -> Document:
    doc = Document.objects.visible_to(request.user).filter(pk=pk).first()
    if doc is None:
        raise Http404(_("No such document."))
    return doc


def _documents_context(request: HttpRequest) -> dict[str, object]:
    docs = list(Document.objects.visible_to(request.user))
    busy = any(DocumentStatus(d.status).is_busy for d in docs)
    return {"documents": docs, "busy": busy}


def dashboard_panel(request: HttpRequest) -> dict[str, object]:
    docs = Document.objects.visible_to(request.user)
    return {
        "total": docs.count(),
        "ready": docs.filter(status=DocumentStatus.READY).count(),
        "bound": FeishuBinding.objects.filter(user=request.user).exclude(open_id="").exists(),
    }


@require_GET
@login_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    """The knowledge base: ask box, documents (with live status), upload."""
    ask_form = AskForm(request.GET or None)
    answer = None
    if ask_form.is_bound and ask_form.is_valid():
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
        return render(request, "feishu/index.html#documents", context)
    if request.htmx and request.htmx.target == "kb-answer":
        return render(request, "feishu/index.html#answer", context)
    return render(request, "feishu/index.html", context)


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
            return redirect("feishu:index")
    context = {
        "ask_form": AskForm(),
        "answer": None,
        "upload_form": form,
        **_documents_context(request),
    }
    return render(request, "feishu/index.html", context, status=HTTPStatus.BAD_REQUEST)


@require_GET
@login_required
def document(request: HttpRequest, pk: int) -> HttpResponse:
    doc = _get_document_for_user(request, pk)
    return render(request, "feishu/document.html", {"document": doc, "chunks": doc.chunks.all()})


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
    return redirect("feishu:index")


@require_http_methods(["GET", "POST"])
@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """Bind the Feishu account, choose how and when to be notified, send a test."""
    binding = services.binding_for(request.user)
    form = NotificationSettingsForm(request.POST or None, instance=binding)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Notification settings saved."))
        return redirect("feishu:settings")
    context = {
        "binding": binding,
        "form": form,
        "bot_enabled": conf.bot_enabled(),
        "webhook_configured": bool(conf.webhook_url()),
        "notifications": Notification.objects.for_user(request.user)[:20],
    }
    status = HTTPStatus.BAD_REQUEST if request.method == "POST" else HTTPStatus.OK
    return render(request, "feishu/settings.html", context, status=status)


@require_POST
@login_required
def bind_code(request: HttpRequest) -> HttpResponse:
    code = services.start_binding(user=request.user)
    messages.success(
        request, _("Send “/bind %(code)s” to the bot within 15 minutes.") % {"code": code}
    )
    return redirect("feishu:settings")


@require_POST
@login_required
def unbind(request: HttpRequest) -> HttpResponse:
    services.unbind(user=request.user)
    messages.success(request, _("Your Feishu account was unlinked."))
    return redirect("feishu:settings")


@require_POST
@login_required
def test_notification(request: HttpRequest) -> HttpResponse:
    sent = services.notify_user(
        request.user,
        _("Test notification from the AI Chip Prep Portal: it works."),
        kind="test",
    )
    if sent is None:
        messages.error(request, _("Nowhere to send: link your Feishu account or set a webhook."))
    else:
        messages.success(request, _("Test notification queued."))
    return redirect("feishu:settings")


@csrf_exempt
def events(request: HttpRequest) -> HttpResponse:
    """Feishu's event callback URL (signed, encrypted; the work happens in Celery).

    It does not exist (404) until every delivery can be verified, and an oversized
    body is refused (413) before anything reads or parses it.
    """
    if not conf.events_enabled():
        return JsonResponse({"detail": "Not Found"}, status=HTTPStatus.NOT_FOUND)
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=HTTPStatus.METHOD_NOT_ALLOWED)
    too_large = JsonResponse(
        {"detail": f"the body is larger than {conf.EVENT_MAX_BODY_BYTES} bytes"},
        status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > conf.EVENT_MAX_BODY_BYTES:
        return too_large
    # The declared length may be absent or lie: read at most one byte past the cap.
    body = request.read(conf.EVENT_MAX_BODY_BYTES + 1)
    if len(body) > conf.EVENT_MAX_BODY_BYTES:
        return too_large
    result = handle_event_request(body=body, headers=dict(request.headers), path=request.path)
    return JsonResponse(result.body, status=result.status)
