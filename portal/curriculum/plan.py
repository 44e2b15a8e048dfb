"""The plan's structure (phases, weeks, how many items each holds), cached.

It is the same for every person and read by every curriculum page and the dashboard, so
each web process keeps one copy, tagged with a version stored in the shared cache (Redis).
Loading content (`loadcurriculum`) or saving/deleting a phase, week or item writes a new
version, and every process reloads on its next request. Without Redis, or inside a
transaction (whose writes may still roll back), pages read the database as before.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count

from portal.core import pagecache
from portal.curriculum.models import Item, Phase, Week

log = logging.getLogger(__name__)

VERSION_KEY = "curriculum:plan:version"


@dataclass(frozen=True)
class PlanStructure:
    version: str
    phases: list[Phase]
    weeks: list[Week]  # active weeks, in order, with their phase
    # Active items counted per (kind, week number, phase number, phase title).
    item_totals: list[dict[str, Any]]
    # The tables read to build it: a page shown from this copy depends on them all the same.
    tables: frozenset[str] = frozenset()

    def week(self, number: int) -> Week | None:
        return next((w for w in self.weeks if w.number == number), None)


_local: PlanStructure | None = None


def _shared_version() -> str | None:
    """The current version, creating one if there is none; None when Redis is unreachable."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not cache.add(VERSION_KEY, version, timeout=None):
                version = cache.get(VERSION_KEY) or version
        return str(version)
    except Exception:  # noqa: BLE001 - a cache outage must not take the pages down
        return None


def _load(version: str) -> PlanStructure:
    with pagecache.recording() as tables:
        phases = list(Phase.objects.filter(archived=False))
        weeks = list(Week.objects.active().select_related("phase"))
        totals = list(
            Item.objects.active()
            .values("kind", "week__number", "week__phase__number", "week__phase__title")
            .annotate(total=Count("id"))
            .order_by()
        )
    return PlanStructure(
        version=version, phases=phases, weeks=weeks, item_totals=totals, tables=frozenset(tables)
    )


def plan_structure() -> PlanStructure:
    """The plan's phases, weeks and item totals: from this process's copy while it is current.

    Read the version before the rows: a change committed in between makes the next
    request see a newer version and reload, never keep stale rows.
    """
    global _local
    if connection.in_atomic_block:
        return _load("")  # rows this transaction wrote (or will roll back) are not for sharing
    version = _shared_version()
    if version is None:
        return _load("")
    current = _local
    if current is not None and current.version == version:
        pagecache.depends_on(*current.tables)
        return current
    current = _load(version)
    _local = current
    return current


def invalidate_plan(**_: Any) -> None:
    """Make every process reload the plan on its next request (a signal receiver too)."""
    global _local
    _local = None
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001
        # Redis is down: nobody can read the version either, so nobody uses a copy.
        log.warning("could not bump the curriculum plan version (cache unreachable)")
