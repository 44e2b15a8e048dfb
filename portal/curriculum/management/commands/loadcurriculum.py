from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from portal.curriculum.content import CONTENT_DIR, read_content
from portal.curriculum.services import load_content


class Command(BaseCommand):
    help = "Load the 16-week plan from the content files (idempotent; keeps everyone's progress)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=CONTENT_DIR, help="content directory")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            content = read_content(options["dir"])
        except (ValidationError, ValueError, OSError) as exc:
            raise CommandError(f"curriculum content is invalid: {exc}") from exc
        report = load_content(content=content)
        if options["verbosity"] > 0:
            self.stdout.write(self.style.SUCCESS(f"curriculum loaded: {report.summary()}"))
