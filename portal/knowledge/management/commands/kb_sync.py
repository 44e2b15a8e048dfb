"""Ingest the plan, curriculum, papers and finished lab runs into the knowledge base."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Ingest the plan, curriculum weeks, papers and lab reports (unchanged items are no-ops; "
        "embedding runs in Celery). --queue only queues the sync itself on a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue", action="store_true", help="Queue the sync on a worker and return at once."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from portal.knowledge import conf
        from portal.knowledge.sources import sync_sources
        from portal.knowledge.tasks import sync_sources_task

        if options["queue"]:
            result = sync_sources_task.apply_async(queue=conf.queue())
            self.stdout.write(f"knowledge sync queued ({result.id})")
            return
        counts = sync_sources()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
