"""The project's one NinjaAPI; every app contributes a Router from its own api.py."""

from __future__ import annotations

import logging
from importlib import import_module

from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from portal.core.auth import api_auth
from portal.core.middleware import database_unavailable_response

api = NinjaAPI(
    title="AI Chip Prep Portal API",
    version="1.0",
    urls_namespace="api",
    auth=api_auth,
    docs_url="/docs",
)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """An outage is a 503 here too (ninja would answer DEBUG's 500 traceback first)."""
    return database_unavailable_response(request, exc)


@api.exception_handler(DataError)
def invalid_for_database(request: HttpRequest, exc: DataError) -> HttpResponse:
    """Input the schema let through but PostgreSQL refuses (NUL bytes, numbers out of range) is a 400."""
    logging.getLogger(__name__).warning("rejected input on %s: %s", request.path, exc)
    return api.create_response(
        request,
        {"detail": "A value is out of range or contains characters that cannot be stored."},
        status=400,
    )


# (module, url prefix, tag). A module without a `router` is skipped, so apps can
# be filled in one by one. Prefixes have no trailing slash: every route is spelled
# without one (`/api/papers`, `/api/papers/sync`); ApiPathMiddleware answers the
# slashed spelling with the same resource.
APP_ROUTERS = [
    ("portal.core.api", "/auth", "auth"),
    ("portal.curriculum.api", "/curriculum", "curriculum"),
    ("portal.papers.api", "/papers", "papers"),
    ("portal.labs.api", "/labs", "labs"),
    ("portal.labs.api_runs", "/runs", "runs"),
    ("portal.labs.hal.api", "/hal", "hal"),
    # the sandbox kept its /api/hal/compare and /api/hal/rewards when it left the HAL
    ("portal.labs.sandbox.api", "/hal", "sandbox"),
    ("portal.labs.kernels.api", "/kernels", "kernels"),
    ("portal.knowledge.api", "/kb", "knowledge"),
]

for module_name, prefix, tag in APP_ROUTERS:
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    router = getattr(module, "router", None)
    if router is not None:
        api.add_router(prefix, router, tags=[tag])

_ = settings  # settings are configured before this module is imported
