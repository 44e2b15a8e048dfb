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


# Min/max bucket downsampling in PostgreSQL: each series' points are numbered in order and,
# past `max_points`, split into (max_points - 2) / 2 buckets keeping each bucket's lowest and
# highest value plus the first and last point; so spikes survive and a page never receives
# more than max_points per series whatever the run stored. The first `max_series` names (by
# first appearance) are read. The (run, kind, seq) index serves the scan.
_DOWNSAMPLED_METRICS_SQL = """
WITH names AS (
    SELECT data->>'name' AS name, min(seq) AS first_seq
    FROM labs_runevent WHERE run_id = %(run)s AND kind = 'metric'
    GROUP BY 1 ORDER BY 2 LIMIT %(max_series)s
), m AS (
    SELECT e.seq, names.name, names.first_seq, (e.data->>'step')::float8 AS step,
           (e.data->>'value')::float8 AS value,
           row_number() OVER (PARTITION BY names.name ORDER BY e.seq) - 1 AS i,
           count(*) OVER (PARTITION BY names.name) AS n
    FROM labs_runevent e JOIN names ON e.data->>'name' = names.name
    WHERE e.run_id = %(run)s AND e.kind = 'metric'
), b AS (
    SELECT *, CASE WHEN n <= %(max_points)s THEN i ELSE i * %(buckets)s / n END AS bucket FROM m
), r AS (
    SELECT *,
           row_number() OVER (PARTITION BY name, bucket ORDER BY value ASC, seq) AS lo,
           row_number() OVER (PARTITION BY name, bucket ORDER BY value DESC, seq) AS hi
    FROM b
)
SELECT name, step, value FROM r
WHERE n <= %(max_points)s OR lo = 1 OR hi = 1 OR i = 0 OR i = n - 1
ORDER BY first_seq, seq
"""


def downsampled_metrics(
    run_id: int, *, max_points: int = 2000, max_series: int = 100
) -> dict[str, list[list[Any]]]:
    """Each metric series of a run as [[step, value], ...], at most `max_points` per series
    (min/max kept), for the run and compare pages; the live socket adds newer points."""
    from django.db import connection

    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    series: dict[str, list[list[Any]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _DOWNSAMPLED_METRICS_SQL,
            {
                "run": run_id,
                "max_points": max_points,
                "buckets": (max_points - 2) // 2,
                "max_series": max_series,
            },
        )
        for name, step, value in cursor.fetchall():
            step = int(step) if step is not None and step.is_integer() else step
            series.setdefault(name, []).append([step, value])
    return series
