"""The project's one NinjaAPI; every app contributes a Router from its own api.py."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from ninja import NinjaAPI

from portal.core.auth import api_auth

api = NinjaAPI(
    title="AI Chip Prep Portal API",
    version="1.0",
    urls_namespace="api",
    auth=api_auth,
    docs_url="/docs",
)

# (module, url prefix, tag). A module without a `router` is skipped, so apps can
# be filled in one by one.
APP_ROUTERS = [
    ("portal.core.api", "/auth/", "auth"),
    ("portal.curriculum.api", "/curriculum/", "curriculum"),
    ("portal.papers.api", "/papers/", "papers"),
    ("portal.labs.api", "/labs/", "labs"),
    ("portal.labs.api_runs", "/runs/", "runs"),
    ("portal.labs.hal.api", "/hal/", "hal"),
    ("portal.labs.kernels.api", "/kernels/", "kernels"),
    ("portal.feishu.api", "/feishu/", "feishu"),
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
