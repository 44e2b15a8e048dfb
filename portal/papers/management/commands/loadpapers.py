"""Load the study plan's 28 core papers from data/core_papers.yaml. Offline and idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from portal.papers.services import load_core_papers


class Command(BaseCommand):
    help = (
        "Load the built-in core paper list (domains, priorities, labs; weeks derived from the "
        "curriculum's readings). Never touches the network."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = load_core_papers()
        except (ValidationError, ValueError, OSError) as exc:
            raise CommandError(f"paper data is invalid: {exc}") from exc
        self.stdout.write(
            f"core papers: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.demoted} no longer core"
        )
