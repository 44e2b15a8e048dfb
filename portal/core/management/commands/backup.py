"""`python manage.py backup FILE`: the database and media files in one archive."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.backup import BackupError, create_backup
from portal.core.embedded import EmbeddedServiceError, database_services


class Command(BaseCommand):
    help = "Back up the database (pg_dump) and the media files into one .tar.gz archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the archive to write, e.g. portal.tar.gz")

    def handle(self, *args: object, file: Path, **options: object) -> None:
        try:
            with database_services():
                manifest = create_backup(file)
        except (BackupError, EmbeddedServiceError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest.tables.values())
        self.stdout.write(
            self.style.SUCCESS(f"Backed up to {file}: ")
            + f"{len(manifest.tables)} tables, {rows} rows, "
            f"{manifest.media_files} media files ({manifest.media_bytes} bytes)."
        )
