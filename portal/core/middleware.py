from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import is_valid_path
from django.utils import translation

log = logging.getLogger(__name__)


class DefaultLanguageMiddleware:
    """Chinese unless the person chose otherwise (language cookie).

    Unlike LocaleMiddleware it ignores the browser's Accept-Language: the
    study content is Chinese, so the interface starts in Chinese for everyone
    and the switch in the footer sets the cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


API_PREFIX = "/api/"
# Spellings kept answering after a route moved: old prefix -> the one mounted.
API_PATH_ALIASES = {"/api/labs/runs": "/api/runs"}


class ApiPathMiddleware:
    """One spelling for every API route (no trailing slash, as django-ninja writes them).

    A request for the other spelling (`/api/papers/`), or an old alias, is served by
    the route itself: the path is rewritten before URL resolution, so POST bodies are
    kept (no redirect, and CommonMiddleware's APPEND_SLASH never sees an API 404). A
    path that matches no route in either spelling is a JSON 404, never Django's HTML
    page. Placed before CommonMiddleware. Generic: routes added later need nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            canonical = canonical_api_path(path, getattr(request, "urlconf", None))
            if canonical is None:
                return JsonResponse({"detail": "Not Found"}, status=404)
            if canonical != path:
                script_prefix = request.path[: len(request.path) - len(path)]
                request.path_info = request.META["PATH_INFO"] = canonical
                request.path = script_prefix + canonical
        return self.get_response(request)


def canonical_api_path(path: str, urlconf: str | None = None) -> str | None:
    """The mounted spelling of an API path, or None when no route answers it."""
    for old, new in API_PATH_ALIASES.items():
        if path == old or path.startswith(old + "/"):
            path = new + path[len(old) :]
            break
    stripped = path.rstrip("/")
    for candidate in (stripped, path, stripped + "/"):
        if candidate.startswith(API_PREFIX) and is_valid_path(candidate, urlconf):
            return candidate
    return None


class DatabaseUnavailableMiddleware:
    """A database outage answers 503 (with Retry-After), not a 500 traceback.

    Connections are health-checked (CONN_HEALTH_CHECKS), so the next request
    after the database comes back reconnects without restarting the process.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return database_unavailable_response(request, exception)


# What a request answers while PostgreSQL is unavailable (pages, the API, Feishu deliveries).
DATABASE_UNAVAILABLE = {"detail": "The database is unavailable; try again in a few seconds."}
DATABASE_RETRY_AFTER = {"Retry-After": "5"}


def log_database_unavailable(path: str, exception: Exception) -> None:
    log.warning("database unavailable for %s: %s", path, exception)


def database_unavailable_response(request: HttpRequest, exception: Exception) -> HttpResponse:
    """503 with Retry-After; also used by the API, whose own handlers see the exception first."""
    log_database_unavailable(request.path, exception)
    return JsonResponse(DATABASE_UNAVAILABLE, status=503, headers=DATABASE_RETRY_AFTER)
