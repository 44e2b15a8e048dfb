from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
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


def database_unavailable_response(request: HttpRequest, exception: Exception) -> HttpResponse:
    """503 with Retry-After; also used by the API, whose own handlers see the exception first."""
    log.warning("database unavailable for %s: %s", request.path, exception)
    response = JsonResponse(
        {"detail": "The database is unavailable; try again in a few seconds."}, status=503
    )
    response["Retry-After"] = "5"
    return response
