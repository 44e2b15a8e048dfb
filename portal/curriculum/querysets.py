from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Exists, OuterRef, Subquery

if TYPE_CHECKING:
    pass


class WeekQuerySet(models.QuerySet["Week"]):
    def active(self) -> WeekQuerySet:
        return self.filter(archived=False)


class ItemQuerySet(models.QuerySet["Item"]):
    def active(self) -> ItemQuerySet:
        return self.filter(archived=False)

    def tasks(self) -> ItemQuerySet:
        return self.filter(kind="task")

    def goals(self) -> ItemQuerySet:
        return self.filter(kind__in=["skill", "output"])

    def in_plan_order(self) -> ItemQuerySet:
        return self.order_by("kind", "week__number", "order", "id")

    def with_done(self, user: Any) -> ItemQuerySet:
        """Annotate `is_done` and `done_at` for one user (one query, no N+1)."""
        from portal.curriculum.models import ItemProgress

        mine = ItemProgress.objects.filter(user=user, item=OuterRef("pk"), done=True)
        return self.annotate(
            is_done=Exists(mine),
            done_time=Subquery(mine.values("done_at")[:1]),
        )


class ItemProgressQuerySet(models.QuerySet["ItemProgress"]):
    def for_user(self, user: Any) -> ItemProgressQuerySet:
        return self.filter(user=user)

    def done(self) -> ItemProgressQuerySet:
        return self.filter(done=True, item__archived=False)


class WeeklyReviewQuerySet(models.QuerySet["WeeklyReview"]):
    def of_week(self, user: Any, week: int) -> WeeklyReviewQuerySet:
        """One user's review of one week: at most one row (unique per user and week)."""
        return self.filter(user=user, week=week)
