"""Load and fault checks against a real `manage.py up` on a temporary data directory.

Loopback only; stops by itself and removes its data directory. Sections (all by default):

- pages:     N signed-in users browse dashboard, plan, papers and a run page for S seconds
             (p50 / p95 / max page time, error count)
- websocket: 100 websocket clients watch one running lab; each must get every event once, in order
- feishu:    200 signed Feishu events in a burst, a tenth of them duplicates: acks fast, each
             answered exactly once (against a local fake of the Feishu open platform)
- pg:        PostgreSQL stopped for a few seconds under traffic: 503s during the outage, then
             200s again without restarting the web process
- redis:     Redis restarted under a running lab with open websockets: clients reconnect with
             ?after=<last seq> and end with every event, no gap, no duplicate; the run finishes

--server picks the web server `manage.py up` runs: uvicorn (several processes, the default),
daphne (the former single process), or both: the same sections against daphne, then
uvicorn, in one run, with a side-by-side table and the ratios, and each web process's RSS.

--page-cache on|off|both sets PAGE_CACHE for the portal (both: off, then on, compared in one
run); the pages section counts each page's X-Page-Cache (hit, miss, bypass). --toggle-every N
makes each user tick a checklist item before every Nth page (a write that invalidates pages).

Run: .venv/bin/python bench/load.py [--users 50 --seconds 60 --clients 100 --events 200]
     [--only pages,websocket,feishu,pg,redis] [--server uvicorn|daphne|both] [--web-workers N]
     [--page-cache on|off|both] [--toggle-every N]
The comparison the operations page reports:
     .venv/bin/python bench/load.py --only pages,feishu --seconds 30 --server both
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(tempfile.mkdtemp(prefix="aicp-load-", dir="/tmp"))
ENCRYPT_KEY = "bench-encrypt-key"
VERIFICATION_TOKEN = "bench-verification-token"
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)
os.environ.update(
    PORTAL_DATA_DIR=str(DATA_DIR),
    DJANGO_SETTINGS_MODULE="portal.settings",
    DJANGO_ALLOW_ASYNC_UNSAFE="true",
    FEISHU_APP_ID="cli_bench",
    FEISHU_APP_SECRET="bench-secret",
    FEISHU_ENCRYPT_KEY=ENCRYPT_KEY,
    FEISHU_VERIFICATION_TOKEN=VERIFICATION_TOKEN,
    FEISHU_BOT_OPEN_ID="ou_bot",
    KB_EMBEDDER="fake",
    KB_LLM_BACKEND="extractive",
    LOG_LEVEL="WARNING",
)

from tests.feishu.fakefeishu import message_event, signed_request, start_fake_feishu  # noqa: E402

FAKE, FAKE_SERVER = start_fake_feishu()
os.environ["FEISHU_DOMAIN"] = FAKE.base_url

import django  # noqa: E402
import django.apps  # noqa: E402

FINAL = {"succeeded", "failed", "cancelled", "lost"}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz(base: str) -> int:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Portal:
    def __init__(
        self, server: str = "uvicorn", web_workers: int | None = None, page_cache: str = ""
    ) -> None:
        self.server = server
        self.web_workers = web_workers
        self.page_cache = page_cache  # "on" / "off": PAGE_CACHE for the portal; "": inherited
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = DATA_DIR / "up.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        t0 = time.monotonic()
        env = {**os.environ, "PORTAL_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        if self.web_workers:
            env["PORTAL_WEB_WORKERS"] = str(self.web_workers)
        if self.page_cache:
            env["PAGE_CACHE"] = "1" if self.page_cache == "on" else "0"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--server", self.server],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        while time.monotonic() - t0 < 300:
            if self.proc.poll() is not None:
                raise RuntimeError(f"manage.py up exited:\n{self.log.read_text()[-3000:]}")
            if healthz(self.base) == 200:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise RuntimeError(f"/healthz never answered 200:\n{self.log.read_text()[-3000:]}")

    def web_processes(self) -> list[tuple[str, int]]:
        """(role, RSS bytes) of each web process: uvicorn's supervisor and workers, or daphne."""
        import psutil

        if self.proc is None:
            return []
        found: list[tuple[str, int]] = []
        for child in psutil.Process(self.proc.pid).children():
            cmd = " ".join(child.cmdline())
            if "daphne" in cmd:
                found.append(("daphne", child.memory_info().rss))
            elif "uvicorn" in cmd:
                found.append(("uvicorn supervisor", child.memory_info().rss))
                for worker in child.children():
                    if "resource_tracker" not in " ".join(worker.cmdline()):
                        found.append(("uvicorn worker", worker.memory_info().rss))
        return found

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system) so far of every process on the machine, by role."""
    import psutil

    roles: dict[str, float] = {}
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline", "name"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or []) or (proc.info["name"] or "")
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if proc.info["pid"] == me:
            role = "load generator"
        elif "uvicorn" in cmd or "daphne" in cmd or "multiprocessing.spawn" in cmd:
            role = "web"
        elif "postgres" in cmd:
            role = "postgres"
        elif "redis-server" in cmd:
            role = "redis"
        elif "celery" in cmd:
            role = "celery workers"
        else:
            role = "other"
        roles[role] = roles.get(role, 0.0) + times.user + times.system
    return roles


def session_cookie(user) -> str:  # noqa: ANN001
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def make_users(n: int) -> list:
    from django.contrib.auth.models import User

    django.db.close_old_connections()
    return [
        User.objects.get_or_create(username=f"load{i}", defaults={"email": f"l{i}@x.test"})[0]
        for i in range(n)
    ]


def launch(user, params: dict):  # noqa: ANN001
    from portal.labs.registry import get_lab
    from portal.labs.services import launch_run

    django.db.close_old_connections()  # this thread's connection may predate the pg restart

    return launch_run(user=user, lab=get_lab("pipeline-check"), params=params)


# --- pages ---------------------------------------------------------------------------------------


async def pages(portal: Portal, users: int, seconds: float, toggle_every: int = 0) -> dict:
    import httpx
    from django.utils import timezone

    from portal.curriculum.models import Item
    from portal.labs.models import Run, RunEvent

    people = make_users(users)
    # --toggle-every N: each user ticks (or unticks) a week-1 checklist item before every Nth
    # page, as a learner working through the week does; the write invalidates cached pages.
    items = list(Item.objects.filter(week__number=1, kind="task").values_list("pk", flat=True)[:5])
    runs = {}
    for user in people:  # a finished run with 200 metric events each, for the run page
        run = Run.objects.create(
            owner=user,
            lab_id="pipeline-check",
            params={},
            queue="cpu",
            status="succeeded",
            time_limit_s=60,
            soft_time_limit_s=50,
            last_seq=200,
            result={"events": 200},
        )
        now = timezone.now()
        RunEvent.objects.bulk_create(
            RunEvent(
                run=run, seq=i, kind="metric", ts=now, data={"name": "x", "value": i, "step": i}
            )
            for i in range(1, 201)
        )
        runs[user.pk] = run.pk
    kinds = ["/dashboard/", "/curriculum/", "/papers/", "/labs/", "run page"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    cache_states: dict[str, int] = {}
    writes: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    # (seconds since the section started, page time): the first seconds are every user's
    # first visit to every page, rendered before anything is cached.
    timeline: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds

    async def browse(index: int, user) -> None:  # noqa: ANN001
        # httpx, as in every earlier round (comparable figures). The raw client of the
        # Feishu burst was tried here too: 56-59 pages/s at 27-28 ms of web CPU per page,
        # against 55-81 pages/s at 18-26 ms with httpx (docs/operations.md, round 6).
        cookie = session_cookie(user)
        async with httpx.AsyncClient(
            base_url=portal.base, cookies={"sessionid": cookie}, timeout=30
        ) as client:
            i = index
            while time.monotonic() < deadline:
                kind = kinds[i % len(kinds)]
                i += 1
                if (
                    toggle_every
                    and items
                    and i % toggle_every == 0
                    and "csrftoken" in client.cookies
                ):
                    item = items[(i // toggle_every) % len(items)]
                    t0 = time.perf_counter()
                    response = await client.post(
                        f"/curriculum/items/{item}/toggle/",
                        data={"done": "on"} if (i // toggle_every) % 2 else {},
                        headers={"X-CSRFToken": client.cookies["csrftoken"], "HX-Request": "true"},
                    )
                    writes.append(time.perf_counter() - t0)
                    if response.status_code != 200:
                        errors.append(f"toggle {item}: {response.status_code}")
                target = f"/labs/runs/{runs[user.pk]}/" if kind == "run page" else kind
                t0 = time.perf_counter()
                try:
                    response = await client.get(target)
                    ok = response.status_code == 200
                    state = response.headers.get("X-Page-Cache", "none")
                    cache_states[state] = cache_states.get(state, 0) + 1
                except httpx.HTTPError as exc:
                    ok, response = False, exc
                times[kind].append(time.perf_counter() - t0)
                timeline.append((t0 - started, time.perf_counter() - t0))
                if not ok:
                    errors.append(f"{target}: {getattr(response, 'status_code', response)}")

    before, xacts_before = cpu_by_role(), transactions()
    await asyncio.gather(*(browse(i, u) for i, u in enumerate(people)))
    after, xacts = cpu_by_role(), transactions() - xacts_before
    cpu = {role: after[role] - before.get(role, 0.0) for role in after}
    every = [t for ts in times.values() for t in ts]
    return {
        "times": times, "all": every, "errors": errors, "seconds": seconds, "cpu": cpu,
        "transactions": xacts, "cache": cache_states, "writes": writes, "timeline": timeline,
    }  # fmt: skip


def transactions() -> int:
    """PostgreSQL transactions so far (each autocommit statement is one), all databases."""
    from django.db import connection

    django.db.close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database")
        return int(cursor.fetchone()[0])


# --- websocket fan-out ------------------------------------------------------------------------------


def ws_url(portal: Portal, run_id: int, after: int) -> str:
    return portal.base.replace("http://", "ws://") + f"/ws/runs/{run_id}/?after={after}"


async def watch(portal: Portal, run_id: int, cookie: str, reconnect: bool) -> dict:
    """Follow a run to its end; on a dropped socket reconnect with ?after=<last seq>."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    seqs: list[int] = []
    reconnects = 0
    while True:
        after = seqs[-1] if seqs else 0
        try:
            async with connect(
                ws_url(portal, run_id, after),
                additional_headers={"Cookie": f"sessionid={cookie}", "Origin": portal.base},
                max_size=None,
                open_timeout=20,
            ) as ws:
                async for raw in ws:
                    for event in json.loads(raw)["events"]:
                        seqs.append(event["seq"])
                        if event["kind"] == "status" and event["data"]["status"] in FINAL:
                            return {"seqs": seqs, "reconnects": reconnects}
        except (TimeoutError, OSError, WebSocketException):
            pass
        if not reconnect:
            return {"seqs": seqs, "reconnects": reconnects}
        reconnects += 1
        await asyncio.sleep(0.5)


def complete(seqs: list[int], last: int) -> bool:
    return seqs == list(range(1, last + 1))


async def websocket_fanout(portal: Portal, clients: int) -> dict:
    (owner,) = make_users(1)
    cookie = session_cookie(owner)
    run = await asyncio.to_thread(launch, owner, {"events_per_second": 200, "duration_s": 10.0})
    results = await asyncio.gather(
        *(watch(portal, run.pk, cookie, reconnect=True) for _ in range(clients))
    )
    run.refresh_from_db()
    good = sum(complete(r["seqs"], run.last_seq) for r in results)
    return {"clients": clients, "events": run.last_seq, "complete": good, "status": run.status}


# --- Feishu burst -------------------------------------------------------------------------------------


def wait_for_indexing(timeout: float = 600) -> float:
    """Wait until `manage.py up`'s start-up embedding of the knowledge base is over (it keeps a
    worker busy for a minute or so): the sections then measure a running portal, and the two
    servers of `--server both` the same one."""
    from portal.knowledge.models import Document, DocumentStatus

    t0 = time.monotonic()
    busy = [DocumentStatus.PENDING, DocumentStatus.EMBEDDING]
    quiet_since, last_count = None, -1
    while time.monotonic() - t0 < timeout:
        # Documents are created while earlier ones embed: done is "none busy, none new" for 5 s.
        count = Document.objects.count()
        idle = count and not Document.objects.filter(status__in=busy).exists()
        if idle and count == last_count:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 5:
                break
        else:
            quiet_since = None
        last_count = count
        time.sleep(1)
    django.db.connections.close_all()
    return time.monotonic() - t0


async def feishu_warm_up(portal: Portal, deliveries: int, in_flight: int, tag: str) -> None:
    """Untimed deliveries first, so every web process has imported lark-oapi and opened its
    pool: the burst then measures a running portal, not the seconds after a start."""
    import httpx

    gate = asyncio.Semaphore(in_flight)

    async def send(client: httpx.AsyncClient, i: int) -> None:
        payload = message_event(
            text="/help", token=VERIFICATION_TOKEN, event_id=f"warm-{tag}{i}", chat_id=f"oc_w{i}"
        )
        body, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY)
        async with gate:
            await client.post("/feishu/events", content=body, headers=headers)

    async with httpx.AsyncClient(base_url=portal.base, timeout=30) as client:
        await asyncio.gather(*(send(client, i) for i in range(deliveries)))
    await asyncio.sleep(5)  # let the worker answer them before the burst


class RawClient:
    """A lean HTTP/1.1 client for the Feishu burst: one kept-alive connection, requests
    encoded before the clock starts, the response read by its Content-Length (or chunks).

    httpx cost the load generator about 3 ms of CPU per delivery, on the same two cores as
    the portal and inside the measured ack time (a response waits for the generator's event
    loop, shared by 20 requests); Feishu's own senders are not on this machine. This costs
    about 0.3 ms.
    """

    def __init__(self, base: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def encode(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def send(self, request: bytes) -> int:
        """Send an encoded request, read the whole response; returns its status. A kept-alive
        connection the server closed meanwhile is opened again once."""
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                await self.close()
                if fresh or attempt == 2:
                    raise
                continue
            return await self._rest(head)
        raise AssertionError("unreachable")

    async def _rest(self, head: bytes) -> int:
        assert self.reader is not None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length, close, chunked = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value == "close":
                close = True
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def feishu_burst(portal: Portal, events: int, in_flight: int, tag: str = "") -> dict:
    from portal.feishu.models import FeishuEvent

    FAKE.reset()
    unique = events - events // 10
    payloads = [
        message_event(
            text="/help",
            token=VERIFICATION_TOKEN,
            event_id=f"burst-{tag}{i}",
            chat_id=f"oc_b{tag}{i}",
        )
        for i in range(unique)
    ]
    sends = payloads + payloads[: events - unique]  # a tenth delivered twice
    posters = [RawClient(portal.base) for _ in range(in_flight)]
    # Signed and encoded before the clock starts, as Feishu's servers would have them.
    requests = []
    for payload in sends:
        body, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY)
        requests.append(posters[0].encode("POST", "/feishu/events", headers, body))
    acks: list[float] = []
    statuses: list[int] = []
    pending = iter(requests)

    async def sender(poster: RawClient) -> None:
        # each of the `in_flight` senders has one delivery out at a time
        for request in pending:
            t0 = time.perf_counter()
            try:
                status = await poster.send(request)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status = 0  # refused or cut off: counted as non-200, not a crash
                await poster.close()
            acks.append(time.perf_counter() - t0)
            statuses.append(status)

    t0, before = time.perf_counter(), cpu_by_role()
    await asyncio.gather(*(sender(poster) for poster in posters))
    burst_s, after = time.perf_counter() - t0, cpu_by_role()
    for poster in posters:
        await poster.close()
    cpu = {role: after[role] - before.get(role, 0.0) for role in after}
    # every unique event answered once: one message to each chat
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if len(FAKE.messages()) >= unique:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # a late duplicate answer would show up here
    keys = {
        i: (p["event"]["message"]["message_id"], f"oc_b{tag}{i}") for i, p in enumerate(payloads)
    }
    per_event: dict[int, int] = {}
    for received in FAKE.messages():
        text = received.path + json.dumps(received.body) + json.dumps(received.query)
        for i, (message_id, chat_id) in keys.items():
            if message_id in text or f'"{chat_id}"' in text or f"={chat_id}" in text:
                per_event[i] = per_event.get(i, 0) + 1
                break
    per_chat = per_event
    stored = FeishuEvent.objects.filter(event_id__startswith=f"burst-{tag}").count()
    return {
        "sent": len(sends),
        "unique": unique,
        "acks": acks,
        "non_200": sum(s != 200 for s in statuses),
        "burst_s": burst_s,
        "stored": stored,
        "answered_once": sum(1 for n in per_chat.values() if n == 1),
        "answered_twice": sum(1 for n in per_chat.values() if n > 1),
        "messages": len(FAKE.messages()),
        "cpu": cpu,
    }


# --- faults ------------------------------------------------------------------------------------------


async def pg_restart(portal: Portal, outage_s: float = 5.0) -> dict:
    import httpx

    from portal.core.embedded import start_postgres, stop_postgres

    (user,) = make_users(1)
    cookie = session_cookie(user)
    layout = django.conf.settings.DATA_LAYOUT
    samples: list[tuple[float, str, int]] = []
    codes_by_url: dict[str, int] = {}
    stop = asyncio.Event()

    async def poll() -> None:
        async with httpx.AsyncClient(
            base_url=portal.base, cookies={"sessionid": cookie}, timeout=10
        ) as client:
            while not stop.is_set():
                for url in ("/dashboard/", "/api/auth/me"):
                    try:
                        status = (await client.get(url)).status_code
                    except httpx.HTTPError:
                        status = 0
                    samples.append((time.monotonic(), url, status))
                    if status >= 500:
                        codes_by_url.setdefault(f"{url} {status}", 0)
                        codes_by_url[f"{url} {status}"] += 1
                await asyncio.sleep(0.1)

    poller = asyncio.create_task(poll())
    await asyncio.sleep(1)
    django.db.connections.close_all()
    t_down = time.monotonic()
    await asyncio.to_thread(stop_postgres, layout)
    await asyncio.sleep(outage_s)
    await asyncio.to_thread(start_postgres, layout)
    t_up = time.monotonic()
    recovered_at = None
    while time.monotonic() - t_up < 30:
        await asyncio.sleep(0.2)
        recent = [s for s in samples if s[0] > time.monotonic() - 0.5]
        if recent and all(s[2] == 200 for s in recent):
            recovered_at = min(s[0] for s in recent)
            break
    await asyncio.sleep(1)
    stop.set()
    await poller
    during = [s[2] for s in samples if t_down + 0.5 < s[0] < t_up]
    after = [s[2] for s in samples if recovered_at and s[0] >= recovered_at]
    return {
        "during": {code: during.count(code) for code in sorted(set(during))},
        "after": {code: after.count(code) for code in sorted(set(after))},
        "recovery_s": (recovered_at - t_up) if recovered_at else None,
        "web_pid_same": portal.proc is not None and portal.proc.poll() is None,
        "errors_by_url": codes_by_url,
    }


async def redis_restart(portal: Portal, clients: int = 20) -> dict:
    from portal.core.embedded import start_redis, stop_redis

    (owner,) = make_users(1)
    cookie = session_cookie(owner)
    run = await asyncio.to_thread(launch, owner, {"events_per_second": 50, "duration_s": 15.0})
    layout = django.conf.settings.DATA_LAYOUT

    async def restart() -> None:
        await asyncio.sleep(5)
        await asyncio.to_thread(stop_redis, layout)
        await asyncio.sleep(2)
        await asyncio.to_thread(start_redis, layout)

    watchers = asyncio.gather(
        *(watch(portal, run.pk, cookie, reconnect=True) for _ in range(clients))
    )
    restarter = asyncio.create_task(restart())
    try:
        results = await asyncio.wait_for(watchers, timeout=120)
    finally:
        await restarter
    run.refresh_from_db()
    return {
        "clients": clients,
        "events": run.last_seq,
        "status": run.status,
        "complete": sum(complete(r["seqs"], run.last_seq) for r in results),
        "reconnects": sum(r["reconnects"] for r in results),
    }


# --- report --------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument(
        "--feishu-warm-up",
        type=int,
        default=40,
        help="untimed Feishu deliveries before the burst (0: measure the cold start too)",
    )
    parser.add_argument(
        "--in-flight", type=int, default=20, help="Feishu deliveries in flight at once"
    )
    parser.add_argument("--only", default="pages,websocket,feishu,pg,redis")
    parser.add_argument(
        "--server",
        choices=["uvicorn", "daphne", "both"],
        default="uvicorn",
        help="both: daphne (one process, the former setup), then uvicorn, compared",
    )
    parser.add_argument("--web-workers", type=int, help="PORTAL_WEB_WORKERS for uvicorn")
    parser.add_argument(
        "--page-cache",
        choices=["on", "off", "both"],
        default="",
        help="PAGE_CACHE of the portal (default: the environment's, on); both: off, then on, "
        "compared in one run",
    )
    parser.add_argument(
        "--toggle-every",
        type=int,
        default=0,
        help="pages section: each user ticks a checklist item before every Nth page (0: never)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if args.server == "both" and args.page_cache == "both":
        parser.error("compare servers or page caches in one run, not both")
    if args.server == "both":
        variants = [(s, s, args.page_cache) for s in ("daphne", "uvicorn")]
    elif args.page_cache == "both":
        variants = [(f"cache {c}", args.server, c) for c in ("off", "on")]
    else:
        variants = [(args.server, args.server, args.page_cache)]

    every: dict[str, dict[str, dict]] = {}
    try:
        for label, server, page_cache in variants:
            every[label] = run_one(server, args, only, page_cache, label)
            report(label, every[label], args)
    finally:
        FAKE_SERVER.shutdown()
        if os.environ.get("LOAD_KEEP_LOG"):
            shutil.copy(DATA_DIR / "up.log", os.environ["LOAD_KEEP_LOG"])
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    if len(every) > 1:
        compare(every, args)


def run_one(
    server: str, args: argparse.Namespace, only: set[str], page_cache: str = "", label: str = ""
) -> dict[str, dict]:
    """Start `manage.py up --server <server>`, run the chosen sections, stop it."""
    portal = Portal(server, args.web_workers, page_cache)
    results: dict[str, dict] = {}
    try:
        started = portal.start()
        if not django.apps.apps.ready:
            django.setup()
        print(f"\n# {server}: manage.py up on {DATA_DIR}: healthy after {started:.1f} s")
        indexed = wait_for_indexing()
        print(f"# start-up indexing of the knowledge base done {indexed:.1f} s later")
        # Event ids and chats unique to this variant: both halves of a run share one database.
        tag = f"{(label or server).replace(' ', '_')}-"

        async def everything() -> None:
            if "pages" in only:
                results["pages"] = await pages(portal, args.users, args.seconds, args.toggle_every)
                results["rss"] = {"processes": portal.web_processes()}
            if "websocket" in only:
                results["websocket"] = await websocket_fanout(portal, args.clients)
            if "feishu" in only:
                if args.feishu_warm_up:
                    await feishu_warm_up(portal, args.feishu_warm_up, args.in_flight, tag)
                results["feishu"] = await feishu_burst(portal, args.events, args.in_flight, tag)
            if "pg" in only:
                results["pg"] = await pg_restart(portal)
            if "redis" in only:
                results["redis"] = await redis_restart(portal)
            if "rss" not in results:
                results["rss"] = {"processes": portal.web_processes()}

        asyncio.run(everything())
    finally:
        django.db.connections.close_all() if django.apps.apps.ready else None
        portal.stop()
    return results


def cpu_table(cpu: dict[str, float], count: int, unit: str, seconds: float) -> None:
    """Where the 2 cores went during a section: CPU seconds by process role, and per unit."""
    if not cpu:
        return
    print(f"\nwhere the 2 cores went (CPU seconds over the section, and per {unit}):\n")
    print(f"| process | CPU s | share of the section | CPU ms per {unit} |")
    print("| --- | ---: | ---: | ---: |")
    for role, used in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(
            f"| {role} | {used:.1f} | {used / seconds:.0%} of a core "
            f"| {1000 * used / max(1, count):.1f} |"
        )


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def compare(every: dict[str, dict[str, dict]], args: argparse.Namespace) -> None:
    """One table, the two variants (servers or page caches) side by side, from this run."""
    (old_label, old), (new_label, new) = list(every.items())[:2]
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, a: float | None, b: float | None, fmt, higher_is_better: bool) -> None:  # noqa: ANN001
        if a is None or b is None:
            return
        # Always "how many times better the second is": > 1 better, < 1 worse.
        if higher_is_better:
            ratio = f"{b / a:.2f}" if a else "-"
        else:
            ratio = f"{a / b:.2f}" if b else "-"
        rows.append((name, fmt(a), fmt(b), ratio))

    if "pages" in old and "pages" in new:
        po, pn = old["pages"], new["pages"]
        add("pages/s, all pages", len(po["all"]) / po["seconds"], len(pn["all"]) / pn["seconds"],
            lambda v: f"{v:.0f}", True)  # fmt: skip
        add("page time p50", statistics.median(po["all"]), statistics.median(pn["all"]), ms, False)
        add("page time p95", pct(po["all"], 0.95), pct(pn["all"], 0.95), ms, False)
        for kind in po["times"]:
            if po["times"][kind] and pn["times"][kind]:
                add(f"{kind} p50", statistics.median(po["times"][kind]),
                    statistics.median(pn["times"][kind]), ms, False)  # fmt: skip
        rows.append(("page errors", str(len(po["errors"])), str(len(pn["errors"])), ""))
        rows.append(("page cache hit / miss / bypass", cache_mix(po), cache_mix(pn), ""))
        add("web CPU per page", web_cpu_per_page(po), web_cpu_per_page(pn), ms, False)
    if "feishu" in old and "feishu" in new:
        fo, fn = old["feishu"], new["feishu"]
        for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            add(f"Feishu ack {label}", pct(fo["acks"], q), pct(fn["acks"], q), ms, False)
        rows.append(("Feishu non-200", str(fo["non_200"]), str(fn["non_200"]), ""))
        rows.append(
            (
                "Feishu answered once / twice",
                f"{fo['answered_once']} / {fo['answered_twice']}",
                f"{fn['answered_once']} / {fn['answered_twice']}",
                f"of {fn['unique']}",
            )
        )
    for results in (old, new):
        procs = results.get("rss", {}).get("processes", [])
        results["_rss"] = ", ".join(f"{role} {mib(rss)}" for role, rss in procs) or "-"
    rows.append(("web processes (RSS)", old["_rss"], new["_rss"], ""))
    print(f"\n## {old_label} vs {new_label}, same run\n")
    print(f"ratio: how many times better {new_label} is (> 1 better, < 1 worse)\n")
    print(f"| measure | {old_label} | {new_label} | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def cache_mix(pages_result: dict) -> str:
    states = pages_result.get("cache", {})
    total = sum(states.values()) or 1
    return " / ".join(f"{states.get(s, 0) / total:.0%}" for s in ("hit", "miss", "bypass"))


def web_cpu_per_page(pages_result: dict) -> float | None:
    used = pages_result.get("cpu", {}).get("web")
    return used / len(pages_result["all"]) if used is not None and pages_result["all"] else None


def report(server: str, results: dict[str, dict], args: argparse.Namespace) -> None:
    print(f"\n# {server}")
    procs = results.get("rss", {}).get("processes", [])
    print(
        f"\nweb processes: {len(procs)} ("
        + ", ".join(f"{role} {mib(rss)}" for role, rss in procs)
        + ")"
    )
    if "pages" in results:
        r = results["pages"]
        print(f"\n## {args.users} signed-in users for {args.seconds:.0f} s\n")
        print("| page | requests | p50 | p95 | max |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for url, ts in r["times"].items():
            if ts:
                print(
                    f"| {url} | {len(ts)} | {ms(statistics.median(ts))} | {ms(pct(ts, 0.95))} "
                    f"| {ms(max(ts))} |"
                )
        every = r["all"]
        print(
            f"| all | {len(every)} ({len(every) / r['seconds']:.0f}/s) | "
            f"{ms(statistics.median(every))} | {ms(pct(every, 0.95))} | {ms(max(every))} |"
        )
        print(f"\nerrors: {len(r['errors'])} {r['errors'][:5]}")
        print(f"\npage cache (hit / miss / bypass): {cache_mix(r)} of {len(every)} pages")
        for start in (5, 10):
            late = [t for at, t in r.get("timeline", []) if at >= start]
            if late:
                print(
                    f"pages started after the first {start} s: {len(late)}, "
                    f"p50 {ms(statistics.median(late))}, p95 {ms(pct(late, 0.95))}"
                )
        if r.get("writes"):
            w = r["writes"]
            print(
                f"\nchecklist ticks: {len(w)} ({len(w) / r['seconds']:.1f}/s), "
                f"p50 {ms(statistics.median(w))}, p95 {ms(pct(w, 0.95))}"
            )
        if "transactions" in r:
            print(f"\nPostgreSQL transactions per page: {r['transactions'] / len(every):.1f}")
        cpu_table(r.get("cpu", {}), len(every), "page", r["seconds"])
    if "websocket" in results:
        r = results["websocket"]
        print(
            f"\n## websocket fan-out\n\n{r['complete']}/{r['clients']} clients received all "
            f"{r['events']} events in order, once (run {r['status']})"
        )
    if "feishu" in results:
        r = results["feishu"]
        print(
            f"\n## Feishu burst ({args.in_flight} deliveries in flight, after {args.feishu_warm_up} untimed ones)\n\n| sent | unique | non-200 | ack p50 | ack p95 | ack p99 | ack max | burst "
            "| stored | answered once | answered twice |\n"
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            f"| {r['sent']} | {r['unique']} | {r['non_200']} | {ms(statistics.median(r['acks']))} "
            f"| {ms(pct(r['acks'], 0.95))} | {ms(pct(r['acks'], 0.99))} | {ms(max(r['acks']))} | {r['burst_s']:.1f} s "
            f"| {r['stored']} | {r['answered_once']} | {r['answered_twice']} |"
        )
        cpu_table(r.get("cpu", {}), r["sent"], "delivery", r["burst_s"])
    if "pg" in results:
        r = results["pg"]
        print(
            f"\n## PostgreSQL stopped 5 s under traffic\n\nduring: {r['during']}; after: "
            f"{r['after']} {r['errors_by_url']}; back to 200 {r['recovery_s']:.1f} s after the restart; "
            f"web process kept running: {r['web_pid_same']}"
            if r["recovery_s"] is not None
            else f"\n## PostgreSQL restart\n\nNOT RECOVERED: {r}"
        )
    if "redis" in results:
        r = results["redis"]
        print(
            f"\n## Redis restarted under a running lab\n\n{r['complete']}/{r['clients']} clients "
            f"ended with all {r['events']} events, no gap or duplicate ({r['reconnects']} "
            f"reconnects); run {r['status']}"
        )


if __name__ == "__main__":
    main()
