"""Latency of GET /healthz: the heartbeat read (now) against the synchronous Celery ping
it replaced (the baseline, measured in the same run), anonymous and with details.

Requests go through Django's full middleware stack in-process (no network), against the
embedded PostgreSQL and Redis of the portal's data dir. A heartbeat is written for a
bench-only worker name and removed afterwards. Target: anonymous p99 < 50 ms.

    .venv/bin/python bench/healthz.py [--requests 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _feishu_setup import setup_django

BENCH_WORKER = "bench-healthz@nowhere"
TOKEN = "bench-healthz-token"


def measure(client: object, n: int, headers: dict[str, str]) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get("/healthz", headers=headers)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 503), response.status_code
    return times


def measure_ping(n: int) -> list[float]:
    """What every /healthz request used to do for the worker check (timeout 1 s)."""
    from portal.celery import app

    times = []
    for _ in range(n):
        start = time.perf_counter()
        app.control.ping(timeout=1.0)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(runs: list[list[float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(float(np.percentile(r, p)) for r in runs) for p in (50, 95, 99))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pings", type=int, default=3, help="baseline pings per run (1 s each)")
    args = parser.parse_args()

    services = setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from portal.core import health

    call_command("migrate", verbosity=0)
    settings.HEALTHZ_TOKEN = TOKEN
    health.beat(BENCH_WORKER, ["cpu", "feishu"])
    client = Client()
    try:
        measure(client, 20, {})  # warm-up: connections, imports
        anonymous = [measure(client, args.requests, {}) for _ in range(args.repeats)]
        detailed = [
            measure(client, args.requests, {"Authorization": f"Bearer {TOKEN}"})
            for _ in range(args.repeats)
        ]
        ping = [measure_ping(args.pings) for _ in range(args.repeats)]
    finally:
        health.forget(BENCH_WORKER)
        services.stop()

    now = summary(anonymous)
    base = summary(ping)
    rows = [
        ("old: celery ping", base),
        ("/healthz anonymous", now),
        ("/healthz with token", summary(detailed)),
    ]
    print(
        f"GET /healthz, {args.requests} requests x {args.repeats} runs (median of runs); "
        f"baseline: the synchronous worker ping every request used to make"
    )
    print(
        f"{'what':>20} | {'p50 ms':>8} | {'p95 ms':>8} | {'p99 ms':>8} | {'p50 vs old':>10} | p99<50"
    )
    print("-" * 80)
    for name, (p50, p95, p99) in rows:
        print(
            f"{name:>20} | {p50:8.2f} | {p95:8.2f} | {p99:8.2f} | {p50 / base[0]:9.3f}x | {'ok' if p99 < 50 else '-'}"
        )


if __name__ == "__main__":
    main()
