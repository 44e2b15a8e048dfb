from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.labs.kernels.services import import_bench


class Command(BaseCommand):
    help = (
        "Import the JSON written by `bench/kernels_gpu.py --json FILE` as a sweep for the lab page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: object, path: Path, **options: object) -> None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if not isinstance(payload, dict):
            raise CommandError(f"{path} does not hold a JSON object")
        try:
            sweep = import_bench(payload=payload)
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(f"imported sweep {sweep.pk}: {sweep.measurements.count()} points")
