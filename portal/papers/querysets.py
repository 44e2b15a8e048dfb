"""Reusable reads: a person's library, its filters, progress counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import models
from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, Value
from django.db.models.functions import Coalesce

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class PaperQuerySet(models.QuerySet["Paper"]):
    def core(self) -> PaperQuerySet:
        return self.filter(is_core=True)

    def for_week(self, week: int) -> PaperQuerySet:
        """Core papers the curriculum reads in this week (1-16)."""
        return self.filter(is_core=True, curriculum_weeks__contains=[week])

    def for_lab(self, lab_id: str) -> PaperQuerySet:
        """Core papers a lab puts into practice (e.g. "kernels", "llm-quant")."""
        return self.filter(is_core=True, lab_id=lab_id)

    def library(self, user: AbstractBaseUser) -> PaperQuerySet:
        """The core list plus every paper this person added or has a reading record for."""
        from portal.papers.models import Reading

        mine = Reading.objects.filter(user=user, paper=OuterRef("pk"))
        return self.filter(Q(is_core=True) | Exists(mine))

    def visible_to(self, user: AbstractBaseUser) -> PaperQuerySet:
        """The library plus the papers waiting in this person's inbox."""
        from portal.papers.models import InboxItem, Reading

        mine = Reading.objects.filter(user=user, paper=OuterRef("pk"))
        inbox = InboxItem.objects.filter(user=user, paper=OuterRef("pk"))
        return self.filter(Q(is_core=True) | Exists(mine) | Exists(inbox))

    def with_reading(self, user: AbstractBaseUser) -> PaperQuerySet:
        """Annotate `my_status` (to_read when there is no record), `my_rating`, `my_tags`, `my_read_version`."""
        return self.annotate(
            mine=FilteredRelation("readings", condition=Q(readings__user=user)),
            my_status=Coalesce(F("mine__status"), Value("to_read")),
            my_rating=F("mine__rating"),
            my_tags=F("mine__tags"),
            my_read_version=F("mine__read_version"),
        )

    def search_text(self, q: str) -> PaperQuerySet:
        """Full-text match over title and abstract (English stemming), best match first.

        The arXiv id and the short name match too, so "2307.08691" or "GPTQ" find their paper
        before the first sync has fetched a title.
        """
        q = q.strip()
        if not q:
            return self
        query = SearchQuery(q, search_type="websearch", config="english")
        return (
            self.annotate(rank=SearchRank(F("search"), query))
            .filter(Q(search=query) | Q(arxiv_id__icontains=q) | Q(short_name__icontains=q))
            .order_by("-rank", "-is_core", "core_order", "arxiv_id")
        )

    def filtered(
        self,
        *,
        domain: str = "",
        status: str = "",
        priority: int | None = None,
        tag: str = "",
        q: str = "",
    ) -> PaperQuerySet:
        """Apply the library filters; `status` and `tag` need `with_reading()` first."""
        qs = self
        if domain:
            qs = qs.filter(domain=domain)
        if priority:
            qs = qs.filter(priority=priority)
        if status:
            qs = qs.filter(my_status=status)
        if tag:
            qs = qs.filter(my_tags__contains=[tag])
        return qs.search_text(q)

    def unfinished_for(self, user: AbstractBaseUser) -> PaperQuerySet:
        """Papers this person has neither read nor skipped."""
        from portal.papers.models import Reading, ReadingStatus

        done = Reading.objects.filter(
            user=user,
            paper=OuterRef("pk"),
            status__in=[ReadingStatus.READ, ReadingStatus.SKIPPED],
        )
        return self.exclude(Exists(done))


class ReadingQuerySet(models.QuerySet["Reading"]):
    def for_user(self, user: AbstractBaseUser) -> ReadingQuerySet:
        return self.filter(user=user)

    def read(self) -> ReadingQuerySet:
        from portal.papers.models import ReadingStatus

        return self.filter(status=ReadingStatus.READ)

    def highly_rated(self, minimum: int = 4) -> ReadingQuerySet:
        return self.filter(rating__gte=minimum)

    def tag_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for tags in self.values_list("tags", flat=True):
            for tag in tags:
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


class WatchQueryQuerySet(models.QuerySet["WatchQuery"]):
    def active(self) -> WatchQueryQuerySet:
        return self.filter(is_active=True)


class InboxItemQuerySet(models.QuerySet["InboxItem"]):
    def pending(self) -> InboxItemQuerySet:
        return self.filter(dismissed_at__isnull=True)

    def for_user(self, user: AbstractBaseUser) -> InboxItemQuerySet:
        return self.filter(user=user)


class SyncRunQuerySet(models.QuerySet["SyncRun"]):
    def core(self) -> SyncRunQuerySet:
        from portal.papers.models import SyncKind

        return self.filter(kind=SyncKind.CORE)

    def in_progress(self) -> SyncRunQuerySet:
        from portal.papers.models import SyncStatus

        return self.filter(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING])

    def latest_summary(self) -> dict[str, Any]:
        """The newest run, the newest success and the newest failure, for the status line."""
        from portal.papers.models import SyncStatus

        return {
            "latest": self.first(),
            "last_ok": self.filter(status=SyncStatus.OK).first(),
            "last_failed": self.filter(status=SyncStatus.FAILED).first(),
        }
