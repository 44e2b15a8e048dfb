"""Deployment checks of the portal's own settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=True)
def signup_open_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or not settings.PORTAL_SIGNUP_OPEN:
        return []
    return [
        Warning(
            "Sign-up is open (PORTAL_SIGNUP_OPEN): anyone who reaches the portal can create "
            "an account, run labs on its workers and use the shared knowledge base.",
            hint="Set PORTAL_SIGNUP_OPEN=0 and create accounts with createsuperuser or the admin.",
            id="core.W001",
        )
    ]
