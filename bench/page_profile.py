"""Single-request cost of the main pages, with a pyinstrument profile of each (bench only).

Starts the embedded services on a temporary data directory, loads the built-in content, signs
in one learner with some activity, then for each page: a warm-up request, N timed requests
(median / p90 / queries), and a pyinstrument profile of a few more. Prints a table; with
--profile writes the profiles' text to stdout (or --html DIR for the HTML views).

With --baseline REF (a git commit, e.g. main), the same measurement runs first on an export
of REF (`git archive`, in a temporary folder) and the table shows both with the ratio.

Each request renders its page: the page cache is off unless --page-cache on (then the timed
requests are hits, and the table is the cost of serving a cached page).

Run: .venv/bin/python bench/page_profile.py [--runs 30] [--baseline main] [--profile]
     [--html /tmp/profiles] [--pages /labs/,/papers/] [--page-cache on]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# PAGE_BENCH_ROOT: measure another checkout (the --baseline export) with this same script.
ROOT = Path(os.environ.get("PAGE_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
DATA_DIR = Path(tempfile.mkdtemp(prefix="aicp-pages-", dir="/tmp"))
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)
os.environ.update(
    PORTAL_DATA_DIR=str(DATA_DIR),
    DJANGO_SETTINGS_MODULE="portal.settings",
    LOG_LEVEL="WARNING",
)

# "run": a finished run's page with 200 metric events, as bench/load.py browses it.
RUN_PAGE = "run"
PAGES = ["/dashboard/", "/curriculum/", "/papers/", "/labs/", "/curriculum/weeks/10/", RUN_PAGE]


def finished_run_url(user) -> str:  # noqa: ANN001
    from django.utils import timezone

    from portal.labs.models import Run, RunEvent

    run = Run.objects.create(
        owner=user, lab_id="pipeline-check", params={}, queue="cpu", status="succeeded",
        time_limit_s=60, soft_time_limit_s=50, last_seq=200, result={"events": 200},
    )  # fmt: skip
    now = timezone.now()
    RunEvent.objects.bulk_create(
        RunEvent(run=run, seq=i, kind="metric", ts=now, data={"name": "x", "value": i, "step": i})
        for i in range(1, 201)
    )
    return f"/labs/runs/{run.pk}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print a profile of each page")
    parser.add_argument("--html", type=Path, help="write HTML profiles into this folder")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated URLs")
    parser.add_argument("--show-all", action="store_true", help="library frames too")
    parser.add_argument("--sql", action="store_true", help="print each page's queries")
    parser.add_argument("--baseline", help="a git commit to measure first, for the ratio")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--page-cache",
        choices=["off", "on"],
        default="off",
        help="off (default): every request renders its page, the cost this bench is about; "
        "on: the timed requests are page-cache hits",
    )
    args = parser.parse_args()
    os.environ["PAGE_CACHE"] = "1" if args.page_cache == "on" else "0"
    baseline = run_baseline(args) if args.baseline else None

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
    if args.json:
        print(json.dumps(table))
        return
    print(f"\n## Single request, no load (median of {args.runs}, warm)\n")
    if baseline is not None:
        print(f"baseline: {args.baseline}; ratio = baseline web CPU / this tree's web CPU\n")
        print(
            "| page | baseline wall p50 | wall p50 | baseline web CPU | web CPU | ratio "
            "| baseline queries | queries |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for url, (p50, _p90, cpu, queries) in table.items():
            b50, _b90, bcpu, bqueries = baseline.get(url, (0, 0, 0, 0))
            print(
                f"| {url} | {b50 * 1000:.1f} ms | {p50 * 1000:.1f} ms | {bcpu * 1000:.1f} ms "
                f"| {cpu * 1000:.1f} ms | {bcpu / cpu if cpu else 0:.1f}x | {bqueries} | {queries} |"
            )
        return
    # CPU time of this process (the web side, PostgreSQL excluded) is steadier than wall
    # time on a shared machine; both are medians.
    print("| page | wall p50 | wall p90 | web CPU p50 | queries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for url, (p50, p90, cpu, queries) in table.items():
        print(
            f"| {url} | {p50 * 1000:.1f} ms | {p90 * 1000:.1f} ms | {cpu * 1000:.1f} ms "
            f"| {queries} |"
        )


def run_baseline(args: argparse.Namespace) -> dict[str, list[float]]:
    """The same measurement on an export of `args.baseline`, in a subprocess."""
    here = Path(__file__).resolve().parent.parent
    tree = Path(tempfile.mkdtemp(prefix="aicp-base-", dir="/tmp"))
    try:
        archive = subprocess.run(
            ["git", "archive", args.baseline], cwd=here, check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        env = {**os.environ, "PAGE_BENCH_ROOT": str(tree)}
        env.pop("PORTAL_DATA_DIR", None)
        out = subprocess.run(
            [sys.executable, __file__, "--json", "--runs", str(args.runs), "--pages", args.pages],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def measure(args: argparse.Namespace) -> dict[str, tuple[float, float, float, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    user = User.objects.create_user("bench-learner", password="pw-bench-123456")
    client = Client()
    client.force_login(user)
    table: dict[str, tuple[float, float, float, int]] = {}
    for url in args.pages.split(","):
        if url == RUN_PAGE:
            url = finished_run_url(user)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # noqa: ANN001
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        if args.sql:
            print(f"\n### {url}: {len(queries)} queries\n")
            for sql in queries:
                print("-", sql[:160])
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
