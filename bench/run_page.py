"""The run page of a run at the event limit: time, bytes and Python memory of its metric read.

Starts its own embedded PostgreSQL + Redis (under .data/bench), stores one run with
LABS_MAX_EVENTS_PER_RUN metric events (default 200,000, over two series), then measures in
this process, median of several rounds:

- baseline: reading every metric event into Python, as the page did before
  (`values_list("data")` over the run's metric events);
- downsampled: `portal.labs.querysets.downsampled_metrics` (min/max buckets in PostgreSQL,
  at most 2,000 points per series), which the run and compare pages now use;
- the whole run page (`GET /labs/runs/<id>/` through the Django test client).

Run: .venv/bin/python bench/run_page.py [--events 200000 --rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / ".data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.core.embedded import embedded_services_from_settings  # noqa: E402
from portal.labs.models import EventKind, Run, RunEvent, RunStatus  # noqa: E402
from portal.labs.querysets import downsampled_metrics  # noqa: E402


def all_metric_events(run_id: int) -> dict[str, list[list[float]]]:
    """The page's read before downsampling: every metric event of the run."""
    series: dict[str, list[list[float]]] = defaultdict(list)
    for data in (
        RunEvent.objects.filter(run_id=run_id, kind=EventKind.METRIC)
        .order_by("seq")
        .values_list("data", flat=True)
    ):
        series[data["name"]].append([data["step"], data["value"]])
    return dict(series)


def make_run(user: User, events: int) -> Run:
    run = Run.objects.create(
        owner=user,
        lab_id="pipeline-check",
        status=RunStatus.SUCCEEDED,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        last_seq=events,
    )
    now = timezone.now()
    rows = [
        RunEvent(
            run=run,
            seq=i + 1,
            kind=EventKind.METRIC,
            ts=now,
            data={
                "name": "loss" if i % 2 else "reward",
                "value": (i * 7919) % 1000 / 10,
                "step": i // 2,
            },
        )
        for i in range(events)
    ]
    RunEvent.objects.bulk_create(rows, batch_size=10_000)
    return run


def measure(fn: Callable[[], Any], rounds: int) -> tuple[float, float, Any]:
    """Median seconds (untraced rounds), peak traced MiB (one more round), the last result."""
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    services = embedded_services_from_settings().start()
    try:
        call_command("migrate", interactive=False, verbosity=0)
        setup_test_environment()
        user, _ = User.objects.get_or_create(username="bench-run-page")
        run = make_run(user, args.events)
        client = Client()
        client.force_login(user)
        base_s, base_mib, base = measure(lambda: all_metric_events(run.pk), args.rounds)
        down_s, down_mib, down = measure(lambda: downsampled_metrics(run.pk), args.rounds)
        page_s, page_mib, page = measure(lambda: client.get(f"/labs/runs/{run.pk}/"), args.rounds)
        assert page.status_code == 200
        run.delete()
    finally:
        services.stop()

    def points(series: dict[str, list]) -> int:
        return sum(len(v) for v in series.values())

    rows = [
        ("all metric events (before)", base_s, base_mib, points(base), "1.00×"),
        ("downsampled in PostgreSQL", down_s, down_mib, points(down), f"{down_s / base_s:.2f}×"),
        ("run page (points = bytes)", page_s, page_mib, len(page.content), ""),
    ]
    print(f"\nrun page read of one run with {args.events:,} metric events, median of {args.rounds}")
    print(f"| {'read':<30} | {'time':>9} | {'peak Py MiB':>11} | {'points':>8} | vs before |")
    print(f"| {'-' * 30} | {'-' * 9} | {'-' * 11} | {'-' * 8} | --------- |")
    for name, seconds, mib, count, ratio in rows:
        print(f"| {name:<30} | {seconds * 1e3:7.0f} ms | {mib:11.1f} | {count:8,} | {ratio:>9} |")


if __name__ == "__main__":
    main()
