"""Labs streaming targets, measured end to end on this machine.

Starts its own embedded PostgreSQL + Redis (under .data/bench), a real Celery
worker and daphne, then measures through real websockets:

1. launch → first worker event (the `running` status) on an idle warm worker;
2. worker `metric()` → event at a websocket client (p50, p99), against a
   baseline: a bare Redis channel-layer group_send → receive in this process;
3. a lab emitting 2,000 events/s for 10 s watched by 20 clients: every event
   stored and delivered once, in order, to each client.

Run: .venv/bin/python bench/labs_streaming.py [--rate 2000 --seconds 10 --clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / ".data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# the bench process itself talks to the ORM from inside asyncio
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from portal.core.embedded import embedded_services_from_settings  # noqa: E402
from portal.labs.models import Run, RunEvent  # noqa: E402
from portal.labs.registry import get_lab  # noqa: E402
from portal.labs.services import launch_run  # noqa: E402

FINAL = {"succeeded", "failed", "cancelled", "lost"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _start_worker(logdir: Path) -> subprocess.Popen:
    name = f"bench-{os.getpid()}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            "cpu,gpu",
            "-c",
            "1",
            "-n",
            name,
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=_env(),
        stdout=(logdir / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    from portal.celery import app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not app.control.ping(destination=[name], timeout=0.5):
        pass
    return proc


def _start_daphne(logdir: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "portal.asgi:application",
        ],
        cwd=ROOT,
        env=_env(),
        stdout=(logdir / "daphne.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return proc


def _session_cookie(user: User) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


class Socket:
    def __init__(self, base: str, cookie: str) -> None:
        self.base, self.cookie = base, cookie

    def open(self, run_id: int, after: int = 0):
        url = self.base.replace("http://", "ws://") + f"/ws/runs/{run_id}/?after={after}"
        return connect(
            url, additional_headers={"Cookie": self.cookie, "Origin": self.base}, max_size=None
        )


async def _follow(ws, on_event=None) -> list[int]:
    seqs: list[int] = []
    async for raw in ws:
        now = time.time()
        for event in json.loads(raw)["events"]:
            seqs.append(event["seq"])
            if on_event:
                on_event(event, now)
            if event["kind"] == "status" and event["data"]["status"] in FINAL:
                return seqs
    return seqs


async def launch_to_first_event(user: User, sock: Socket, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        run = await _launch(user, {"events_per_second": 100, "duration_s": 0.1})
        first: list[float] = []

        def seen(event, _now, first=first, t0=t0):
            if event["seq"] >= 2 and not first:  # seq 1 is the launch's own "queued"
                first.append(time.perf_counter() - t0)

        async with sock.open(run.pk) as ws:
            await _follow(ws, seen)
        out.append(first[0])
    return out


async def metric_latency(user: User, sock: Socket) -> list[float]:
    run = await _launch(
        user,
        {"events_per_second": 200, "duration_s": 5, "log_every": 0},
    )
    latencies: list[float] = []

    def seen(event, now):
        if event["kind"] == "metric":
            latencies.append(now - datetime.fromisoformat(event["ts"]).timestamp())

    async with sock.open(run.pk) as ws:
        await _follow(ws, seen)
    return latencies


async def layer_baseline(n: int = 300) -> list[float]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("bench-baseline", channel)
    out = []
    for _ in range(n):
        t0 = time.time()
        await layer.group_send("bench-baseline", {"type": "x", "t": t0})
        await layer.receive(channel)
        out.append(time.time() - t0)
    await layer.group_discard("bench-baseline", channel)
    return out


async def fan_out(user: User, sock: Socket, rate: int, seconds: float, clients: int) -> dict:
    run = await _launch(
        user,
        {"events_per_second": rate, "duration_s": seconds, "log_every": 0},
    )
    sockets = [await sock.open(run.pk).__aenter__() for _ in range(clients)]
    t0 = time.perf_counter()
    results = await asyncio.gather(*(_follow(ws) for ws in sockets))
    elapsed = time.perf_counter() - t0
    for ws in sockets:
        await ws.close()
    run.refresh_from_db()
    expected = list(range(1, run.last_seq + 1))
    return {
        "run": run,
        "stored": RunEvent.objects.filter(run=run).count(),
        "metrics": RunEvent.objects.filter(run=run, kind="metric").count(),
        "exact": sum(seqs == expected for seqs in results),
        "clients": clients,
        "elapsed": elapsed,
    }


async def _launch(user: User, params: dict) -> Run:
    # publishing after commit uses async_to_sync, which must not run on the event loop's thread
    return await asyncio.to_thread(
        launch_run, user=user, lab=get_lab("pipeline-check"), params=params
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--launches", type=int, default=7)
    args = parser.parse_args()

    services = embedded_services_from_settings().start()
    logdir = settings.DATA_LAYOUT.root / "bench-logs"
    logdir.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        call_command("migrate", interactive=False, verbosity=0)
        user, _ = User.objects.get_or_create(username="bench")
        settings.LABS_MAX_ACTIVE_RUNS_PER_USER = 1000
        port = _free_port()
        procs = [_start_worker(logdir), _start_daphne(logdir, port)]
        sock = Socket(f"http://127.0.0.1:{port}", _session_cookie(user))

        async def all_measurements():
            await launch_to_first_event(user, sock, 1)  # warm the worker (torch import, ...)
            launches = await launch_to_first_event(user, sock, args.launches)
            latencies = await metric_latency(user, sock)
            baseline = await layer_baseline()
            fan = await fan_out(user, sock, args.rate, args.seconds, args.clients)
            return launches, latencies, baseline, fan

        launches, latencies, baseline, fan = asyncio.run(all_measurements())
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        services.stop()

    base50 = statistics.median(baseline)
    rows = [
        (
            "launch → first worker event, median",
            f"{statistics.median(launches) * 1e3:.0f} ms",
            "< 1000 ms",
            f"n={len(launches)}",
        ),
        (
            "metric() → websocket, p50",
            f"{pct(latencies, 0.5) * 1e3:.1f} ms",
            "< 50 ms",
            f"{pct(latencies, 0.5) / base50:.0f}× bare layer",
        ),
        (
            "metric() → websocket, p99",
            f"{pct(latencies, 0.99) * 1e3:.1f} ms",
            "< 250 ms",
            f"n={len(latencies)}",
        ),
        (
            "baseline: bare channel layer group_send → receive, p50",
            f"{base50 * 1e3:.2f} ms",
            "",
            "",
        ),
        (
            f"{args.rate}/s × {args.seconds:g} s: events stored",
            f"{fan['stored']} ({fan['metrics']} metrics)",
            f"{int(args.rate * args.seconds)} metrics",
            "",
        ),
        (
            "clients that got every event once, in order",
            f"{fan['exact']}/{fan['clients']}",
            f"{fan['clients']}/{fan['clients']}",
            f"run {fan['run'].status}, {fan['elapsed']:.1f} s",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>22}  {'target':>14}  note")
    for name, value, target, note in rows:
        print(f"{name:<{width}}  {value:>22}  {target:>14}  {note}")


if __name__ == "__main__":
    main()
