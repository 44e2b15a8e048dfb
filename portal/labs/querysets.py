from __future__ import annotations

from typing import TYPE_CHECKING

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
