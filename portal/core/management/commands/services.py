"""`python manage.py services start|stop|status`: the embedded servers alone (scripts, tests)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.embedded import (
    EmbeddedServiceError,
    postgres_running,
    redis_running,
    start_postgres,
    start_redis,
    stop_postgres,
    stop_redis,
)


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL and Redis."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args: object, action: str, **options: object) -> None:
        layout = settings.DATA_LAYOUT
        try:
            if action == "start":
                if settings.EMBEDDED_POSTGRES:
                    start_postgres(layout)
                if settings.EMBEDDED_REDIS:
                    start_redis(layout)
            elif action == "stop":
                if settings.EMBEDDED_REDIS:
                    stop_redis(layout)
                if settings.EMBEDDED_POSTGRES:
                    stop_postgres(layout)
        except EmbeddedServiceError as exc:
            raise CommandError(str(exc)) from exc
        pg = (
            "external"
            if not settings.EMBEDDED_POSTGRES
            else ("running" if postgres_running(layout) else "stopped")
        )
        rd = (
            "external"
            if not settings.EMBEDDED_REDIS
            else ("running" if redis_running(layout) else "stopped")
        )
        self.stdout.write(f"postgres: {pg}\nredis: {rd}\ndata: {layout.runtime}")
