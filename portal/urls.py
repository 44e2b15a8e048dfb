from __future__ import annotations

from importlib import import_module

from django.contrib import admin
from django.urls import include, path

from portal.api import api
from portal.knowledge.views import moved_kb_api

urlpatterns = [
    path("", include("portal.core.urls")),
    path("admin/", admin.site.urls),
    # The knowledge-base API moved from /api/feishu/kb/ to /api/kb/; 308 keeps method and body.
    path("api/feishu/kb/<path:rest>", moved_kb_api),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]

# Feature apps mount their pages when they have a urls.py.
APP_URLS = [
    ("curriculum/", "portal.curriculum.urls"),
    ("papers/", "portal.papers.urls"),
    ("labs/", "portal.labs.urls"),
    ("labs/hal/", "portal.labs.hal.urls"),
    ("labs/kernels/", "portal.labs.kernels.urls"),
    ("labs/sandbox/", "portal.labs.sandbox.urls"),
    ("kb/", "portal.knowledge.urls"),
    ("feishu/", "portal.feishu.urls"),
]
for prefix, module_name in APP_URLS:
    try:
        import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    urlpatterns.append(path(prefix, include(module_name)))

# MEDIA_ROOT is never served as static files: it holds run artifacts, which only their
# owner may download (through the labs' access-checked view).
