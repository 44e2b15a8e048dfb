"""`manage.py registerlabs`: check every registered lab (idempotent, fast; run by `manage.py up`).

Each lab's defaults must validate, its schema must render as a launch form,
and its device class must map to a queue. A broken lab stops start-up with a
clear message instead of failing later in a worker.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.labs.conf import queue_for
from portal.labs.forms import params_form
from portal.labs.registry import all_labs


class Command(BaseCommand):
    help = "Validate every registered lab's parameter defaults and schema, and list the labs."

    def handle(self, *args: Any, **options: Any) -> None:
        problems: list[str] = []
        labs = all_labs()
        for lab in labs:
            try:
                lab.validate({})
                params_form(lab)
            except Exception as exc:  # noqa: BLE001 - report every broken lab at once
                problems.append(f"{lab.id}: {type(exc).__name__}: {exc}")
                continue
            if options["verbosity"] >= 1:
                self.stdout.write(
                    f"  {lab.id:<28} week {lab.week or '-':<3} {lab.device:<4} "
                    f"→ queue {queue_for(str(lab.device))}"
                )
        if problems:
            raise CommandError("Broken labs:\n" + "\n".join(problems))
        self.stdout.write(self.style.SUCCESS(f"{len(labs)} labs registered and valid."))
