from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    """Switches every page's navigation needs (the sign-up link hides when closed)."""
    return {"signup_open": bool(settings.PORTAL_SIGNUP_OPEN)}
