from __future__ import annotations

import secrets
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.dashboard import panels
from portal.core.forms import SignUpForm, ThrottledAuthenticationForm, TokenForm
from portal.core.health import run_checks
from portal.core.htmx import HtmxHttpRequest
from portal.core.models import ApiToken
from portal.core.pagecache import cached_page
from portal.core.services import issue_api_token, revoke_api_token

SECTIONS = {
    "curriculum": "Curriculum",
    "papers": "Papers",
    "labs": "Labs",
    "knowledge": "Knowledge base",
    "feishu": "Feishu",
}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "core/home.html")


@require_GET
@login_required
@cached_page
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    rendered = [(panel, panel.context(request)) for panel in panels()]
    return render(request, "core/dashboard.html", {"panels": rendered})


class ThrottledLoginView(LoginView):
    """Django's login view; a locked-out sign-in answers 429 with Retry-After."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked:
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
            response["Retry-After"] = str(settings.LOGIN_LOCKOUT_S)
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    if not settings.PORTAL_SIGNUP_OPEN:
        return render(request, "registration/signup_closed.html", status=HTTPStatus.FORBIDDEN)
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("dashboard")
        return render(
            request, "registration/signup.html", {"form": form}, status=HTTPStatus.BAD_REQUEST
        )
    return render(request, "registration/signup.html", {"form": form})


@require_GET
@login_required
def account(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.active().filter(user=request.user)
    return render(request, "core/account.html", {"tokens": tokens, "form": TokenForm()})


@require_POST
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        tokens = ApiToken.objects.active().filter(user=request.user)
        return render(
            request,
            "core/account.html",
            {"tokens": tokens, "form": form},
            status=HTTPStatus.BAD_REQUEST,
        )
    _token, raw = issue_api_token(user=request.user, name=form.cleaned_data["name"])
    tokens = ApiToken.objects.active().filter(user=request.user)
    return render(
        request, "core/account.html", {"tokens": tokens, "form": TokenForm(), "new_token": raw}
    )


def _get_token_for_user(request: HttpRequest, pk: int) -> ApiToken:
    token = ApiToken.objects.active().filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404("No such token")
    return token


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    revoke_api_token(token=_get_token_for_user(request, pk))
    messages.success(request, _("Token revoked."))
    return redirect("account")


@require_GET
@login_required
def section_placeholder(request: HttpRequest, section: str) -> HttpResponse:
    if section not in SECTIONS:
        raise Http404("No such section")
    return render(
        request, "core/section_placeholder.html", {"section": section, "title": SECTIONS[section]}
    )


def _may_see_health_details(request: HttpRequest) -> bool:
    token = settings.HEALTHZ_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return secrets.compare_digest(header.removeprefix("Bearer ").strip(), token)
    try:
        return bool(request.user.is_authenticated and request.user.is_staff)
    except (OperationalError, InterfaceError):
        return False  # the session store is the database: down means anonymous


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 or 503 with the status; staff or HEALTHZ_TOKEN holders also get each check's
    detail (host names, versions, errors), which strangers have no business reading."""
    checks = run_checks()
    failing = [name for name, check in checks.items() if not check.ok]
    body: dict[str, object] = {"status": "ok" if not failing else "unavailable"}
    if _may_see_health_details(request):
        body["failing"] = failing
        body["checks"] = {
            name: {"ok": check.ok, "detail": check.detail} for name, check in checks.items()
        }
    return JsonResponse(
        body, status=HTTPStatus.OK if not failing else HTTPStatus.SERVICE_UNAVAILABLE
    )
