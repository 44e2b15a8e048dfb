from __future__ import annotations

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.feishu import conf, services
from portal.feishu.events import TOO_LARGE, handle_event_request
from portal.feishu.forms import NotificationSettingsForm
from portal.feishu.models import FeishuBinding, Notification


def dashboard_panel(request: HttpRequest) -> dict[str, object]:
    return {
        "bound": FeishuBinding.objects.filter(user=request.user).exclude(open_id="").exists(),
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The knowledge base moved to /kb/; old links land there."""
    return redirect("knowledge:index")


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
    too_large = JsonResponse(TOO_LARGE.body, status=TOO_LARGE.status)
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
