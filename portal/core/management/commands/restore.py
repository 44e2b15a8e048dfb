"""`python manage.py restore FILE`: replace the database and media files with a backup's."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.backup import BackupError, database_is_empty, read_manifest, restore_backup
from portal.core.embedded import EmbeddedServiceError, database_services


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` (into a fresh data directory, or --force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="an archive written by `manage.py backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace a database that already holds data (it is lost)",
        )

    def handle(self, *args: object, file: Path, force: bool, **options: object) -> None:
        if not file.is_file():
            raise CommandError(f"{file} does not exist")
        try:
            manifest = read_manifest(file)
            with database_services():
                if not force and not database_is_empty():
                    raise CommandError(
                        "The database already holds data; restoring would replace it. "
                        "Restore into a fresh PORTAL_DATA_DIR, or pass --force."
                    )
                restore_backup(file)
        except (BackupError, EmbeddedServiceError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest.tables.values())
        self.stdout.write(
            self.style.SUCCESS(f"Restored {file} ")
            + f"(made {manifest.created_at}): {len(manifest.tables)} tables, {rows} rows, "
            f"{manifest.media_files} media files. Start the portal with `manage.py up`."
        )
