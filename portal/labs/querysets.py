from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from portal.labs.models import Run, RunEvent  # noqa: F401 - names in annotations


class RunQuerySet(models.QuerySet["Run"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> RunQuerySet:
        """Runs a user may see: their own; staff see every run."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner=user)

    def active(self) -> RunQuerySet:
        from portal.labs.models import RunStatus

        return self.filter(status__in=RunStatus.active_values())

    def for_lab(self, lab_id: str) -> RunQuerySet:
        return self.filter(lab_id=lab_id)


class RunEventQuerySet(models.QuerySet["RunEvent"]):
    def after(self, seq: int) -> RunEventQuerySet:
        return self.filter(seq__gt=seq).order_by("seq")

    def latest_tables(self) -> dict[int, dict[str, list[Any]]]:
        """The newest rows of every table of these events' runs: {run id: {name: rows}}.

        A lab re-sends a whole table when it changes, so the last event of a name wins
        (the run page, Feishu's run documents, the deployment lookup).
        """
        from portal.labs.models import EventKind

        tables: dict[int, dict[str, list[Any]]] = {}
        events = self.filter(kind=EventKind.TABLE).order_by("run_id", "seq")
        for run_id, data in events.values_list("run_id", "data"):
            if isinstance(data, dict) and "name" in data:
                tables.setdefault(run_id, {})[str(data["name"])] = data.get("rows") or []
        return tables
