"""System checks: the bot is enabled (FEISHU_APP_ID) but its other credentials are missing.

A plain `check` (and `runserver`) warns; `check --deploy` fails with an Error, since a
half-configured bot cannot verify events (the event URL answers 404 until it can).
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from portal.feishu import conf

_HINT = "Copy them from the app's page on the Feishu open platform, or unset FEISHU_APP_ID."


def _missing() -> list[str]:
    if not conf.bot_enabled():
        return []
    return [
        name
        for name, value in (
            ("FEISHU_APP_SECRET", conf.app_secret()),
            ("FEISHU_ENCRYPT_KEY", conf.encrypt_key()),
            ("FEISHU_VERIFICATION_TOKEN", conf.verification_token()),
        )
        if not value
    ]


def _message(missing: list[str]) -> str:
    return (
        f"The Feishu bot is enabled (FEISHU_APP_ID is set) but {', '.join(missing)} "
        "is not: events cannot be verified (POST /feishu/events answers 404) or replies sent."
    )


@register()
def feishu_credentials_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    missing = _missing()
    if not missing:
        return []
    return [Warning(_message(missing), hint=_HINT, id="feishu.W001")]


@register(deploy=True)
def feishu_credentials_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    missing = _missing()
    if not missing:
        return []
    return [Error(_message(missing), hint=_HINT, id="feishu.E001")]
