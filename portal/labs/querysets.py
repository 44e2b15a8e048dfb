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

    def latest_tables(self, *, limit: int | None = None) -> dict[int, dict[str, list[Any]]]:
        """The newest rows of every table of these events' runs: {run id: {name: rows}}.

        A lab re-sends a whole table when it changes, so the last event of a name wins
        (the run page, Feishu's run documents, the deployment lookup). One row per
        (run, name) is read, not every version; `limit` caps the names read in all.
        """
        from django.db.models.fields.json import KT

        from portal.labs.models import EventKind

        latest = (
            self.filter(kind=EventKind.TABLE, data__has_key="name")
            .annotate(table_name=KT("data__name"))
            .order_by("run_id", "table_name", "-seq")
            .distinct("run_id", "table_name")
            .values_list("run_id", "seq", "table_name", "data")
        )
        rows = latest[:limit] if limit is not None else latest
        tables: dict[int, dict[str, list[Any]]] = {}
        for run_id, _seq, name, data in sorted(rows, key=lambda row: (row[0], row[1])):
            tables.setdefault(run_id, {})[str(name)] = data.get("rows") or []
        return tables


# Min/max bucket downsampling in PostgreSQL, in two hash-aggregated scans and no sort of the
# events: each series' sequence range is cut into (max_points - 2) / 2 equal buckets and each
# bucket keeps its lowest and highest value (as [value, seq, step] arrays, so ties go to the
# earliest point), plus the series' first and last point; so spikes survive and a page never
# receives more than max_points per series whatever the run stored. A series with at most
# max_points points comes back whole. The first `max_series` names (by first appearance) are
# read. The (run, kind, seq) index serves both scans.
_DOWNSAMPLED_METRICS_SQL = """
WITH points AS NOT MATERIALIZED (
    SELECT seq, data->>'name' AS name, (data->>'value')::float8 AS value,
           (data->>'step')::float8 AS step
    FROM labs_runevent
    WHERE run_id = %(run)s AND kind = 'metric' AND data->>'value' IS NOT NULL
), names AS (
    SELECT name, min(seq) AS lo, max(seq) AS hi, count(*) AS n
    FROM points GROUP BY name ORDER BY lo LIMIT %(max_series)s
)
SELECT names.name, names.lo,
       min(ARRAY[p.value, p.seq::float8, p.step]) AS low,
       max(ARRAY[p.value, -p.seq::float8, p.step]) AS high
FROM points p JOIN names ON p.name = names.name
GROUP BY names.name, names.lo,
         CASE WHEN names.n <= %(max_points)s THEN p.seq
              ELSE (p.seq - names.lo) * %(buckets)s / (names.hi - names.lo + 1) END
UNION ALL
SELECT names.name, names.lo, ARRAY[p.value, p.seq::float8, p.step], NULL
FROM names JOIN points p ON p.seq IN (names.lo, names.hi)
"""


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and value.is_integer() else value


def downsampled_metrics(
    run_id: int, *, max_points: int = 2000, max_series: int = 100
) -> dict[str, list[list[Any]]]:
    """Each metric series of a run as [[step, value], ...] in order, at most `max_points` per
    series (min/max kept), for the run and compare pages; the live socket adds newer points."""
    from django.db import connection, transaction

    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    by_name: dict[str, tuple[float, dict[float, tuple[Any, Any]]]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # a run at the event limit aggregates in memory instead of sorting on disk
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            _DOWNSAMPLED_METRICS_SQL,
            {
                "run": run_id,
                "max_points": max_points,
                "buckets": (max_points - 2) // 2,
                "max_series": max_series,
            },
        )
        for name, lo, low, high in cursor.fetchall():
            _lo, kept = by_name.setdefault(name, (lo, {}))
            kept[low[1]] = (low[2], low[0])
            if high is not None:  # None: the series' first or last point
                kept[-high[1]] = (high[2], high[0])
    series: dict[str, list[list[Any]]] = {}
    for name, (_lo, kept) in sorted(by_name.items(), key=lambda item: item[1][0]):
        series[name] = [[_number(kept[seq][0]), kept[seq][1]] for seq in sorted(kept)]
    return series
