"""Websocket routes of every app, collected in one list.

Each app that streams to the browser exposes `websocket_urlpatterns` in its
own `routing.py`; add it to APP_ROUTING below.
"""

from __future__ import annotations

from importlib import import_module

from django.urls import URLPattern

APP_ROUTING = [
    "portal.labs.routing",
    "portal.feishu.routing",
]


def _collect() -> list[URLPattern]:
    patterns: list[URLPattern] = []
    for module_name in APP_ROUTING:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        patterns.extend(getattr(module, "websocket_urlpatterns", []))
    return patterns


websocket_urlpatterns = _collect()
