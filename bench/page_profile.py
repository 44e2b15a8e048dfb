"""Single-request cost of the main pages, with a pyinstrument profile of each (bench only).

Starts the embedded services on a temporary data directory, loads the built-in content, signs
in one learner with some activity, then for each page: a warm-up request, N timed requests
(median / p90 / queries), and a pyinstrument profile of a few more. Prints a table; with
--profile writes the profiles' text to stdout (or --html DIR for the HTML views).

Run: .venv/bin/python bench/page_profile.py [--runs 30] [--profile] [--html /tmp/profiles]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(tempfile.mkdtemp(prefix="aicp-pages-", dir="/tmp"))
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)
os.environ.update(
    PORTAL_DATA_DIR=str(DATA_DIR),
    DJANGO_SETTINGS_MODULE="portal.settings",
    LOG_LEVEL="WARNING",
)

PAGES = ["/dashboard/", "/curriculum/", "/papers/", "/labs/", "/curriculum/weeks/10/"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print a profile of each page")
    parser.add_argument("--html", type=Path, help="write HTML profiles into this folder")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated URLs")
    parser.add_argument("--show-all", action="store_true", help="library frames too")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from portal.core.embedded import embedded_services_from_settings

    services = embedded_services_from_settings().start()
    try:
        call_command("migrate", interactive=False, verbosity=0)
        for command in settings.PORTAL_BOOTSTRAP_COMMANDS:
            call_command(command, verbosity=0)
        table = measure(args)
    finally:
        django.db.connections.close_all()
        services.stop()
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    print(f"\n## Single request, no load (median of {args.runs}, warm)\n")
    # CPU time of this process (the web side, PostgreSQL excluded) is steadier than wall
    # time on a shared machine; both are medians.
    print("| page | wall p50 | wall p90 | web CPU p50 | queries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for url, (p50, p90, cpu, queries) in table.items():
        print(
            f"| {url} | {p50 * 1000:.1f} ms | {p90 * 1000:.1f} ms | {cpu * 1000:.1f} ms "
            f"| {queries} |"
        )


def measure(args: argparse.Namespace) -> dict[str, tuple[float, float, float, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    user = User.objects.create_user("bench-learner", password="pw-bench-123456")
    client = Client()
    client.force_login(user)
    table: dict[str, tuple[float, float, float, int]] = {}
    for url in args.pages.split(","):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        queries: list[str] = []

        def count(execute, sql, params, many, context):  # noqa: ANN001
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        times, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            client.get(url)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        times.sort()
        table[url] = (
            statistics.median(times),
            times[int(0.9 * (len(times) - 1))],
            statistics.median(cpu),
            len(queries),
        )
        if args.profile or args.html:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(10):
                    client.get(url)
            if args.html:
                args.html.mkdir(parents=True, exist_ok=True)
                name = url.strip("/").replace("/", "_") or "root"
                (args.html / f"{name}.html").write_text(profiler.output_html())
            if args.profile:
                print(f"\n### {url} (10 requests)\n")
                print(profiler.output_text(unicode=False, color=False, show_all=args.show_all))
    return table


if __name__ == "__main__":
    main()
