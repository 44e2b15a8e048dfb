"""`manage.py invalidate_pages`: every cached page is rendered afresh on its next request.

Writes made through Django (any portal process) invalidate the pages that read the table by
themselves; this is for writes made around Django (psql, another program, a restored dump).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from portal.core import pagecache


class Command(BaseCommand):
    help = "Invalidate every cached page (after writes made outside Django)."

    def handle(self, *args: object, **options: object) -> None:
        try:
            pagecache.send_epoch()
        except Exception as exc:  # noqa: BLE001 - say why, as a command error
            raise CommandError(f"Redis refused the new page-cache epoch: {exc}") from exc
        self.stdout.write("Every cached page will be rendered afresh.")
