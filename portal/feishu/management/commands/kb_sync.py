"""Ingest the curriculum, papers and finished lab runs into the knowledge base now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.feishu.sources import sync_sources


class Command(BaseCommand):
    help = "Ingest curriculum weeks, papers and lab reports (unchanged items are no-ops; embedding runs in Celery)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = sync_sources()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
