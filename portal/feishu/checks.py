"""System check: the bot is enabled (FEISHU_APP_ID) but its other credentials are missing."""

from __future__ import annotations

from typing import Any

from django.core.checks import Warning, register

from portal.feishu import conf


@register()
def feishu_credentials_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if not conf.bot_enabled():
        return []
    missing = [
        name
        for name, value in (
            ("FEISHU_APP_SECRET", conf.app_secret()),
            ("FEISHU_ENCRYPT_KEY", conf.encrypt_key()),
            ("FEISHU_VERIFICATION_TOKEN", conf.verification_token()),
        )
        if not value
    ]
    if not missing:
        return []
    return [
        Warning(
            f"The Feishu bot is enabled (FEISHU_APP_ID is set) but {', '.join(missing)} "
            "is not: events cannot be verified or replies sent.",
            hint="Copy them from the app's page on the Feishu open platform.",
            id="feishu.W001",
        )
    ]
