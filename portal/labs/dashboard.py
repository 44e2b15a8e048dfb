"""The labs panel on the dashboard: the user's latest runs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.core.dashboard import Panel, register_panel


def _context(request: HttpRequest) -> dict[str, Any]:
    from portal.labs.models import Run

    runs = Run.objects.filter(owner=request.user).only(
        "pk", "lab_id", "status", "progress", "created_at"
    )[:5]
    return {"runs": list(runs)}


def register() -> None:
    register_panel(Panel("labs", "labs/_dashboard_panel.html", _context, order=30))
