"""Receive Feishu events over lark-oapi's long connection (no public URL needed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.feishu import conf


class Command(BaseCommand):
    help = (
        "Connect to Feishu over a websocket and handle events like POST /feishu/events does "
        "(for installations without a public URL). Blocks; run one per deployment."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not conf.app_id() or not conf.app_secret():
            raise CommandError("FEISHU_APP_ID and FEISHU_APP_SECRET must be set")
        import lark_oapi as lark

        from portal.feishu.events import dispatcher

        client = lark.ws.Client(
            conf.app_id(),
            conf.app_secret(),
            event_handler=dispatcher(),
            domain=conf.domain(),
            log_level=lark.LogLevel.INFO,
        )
        self.stdout.write(f"Connecting to {conf.domain()} as {conf.app_id()}…")
        client.start()
