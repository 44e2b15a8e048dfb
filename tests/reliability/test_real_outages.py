"""Real outages, not patched functions: a private portal stack (`manage.py up` on its own
embedded PostgreSQL and Redis, in a temporary data directory) whose database is stopped
under requests and whose Redis is restarted under a streaming lab run, as bench/load.py
does. The suite's shared servers are never touched.

The same outcomes as the fast tests beside it (test_database_outage.py,
test_realtime_outage.py): an outage answers 503 with Retry-After (JSON, never a 500), the
web process recovers by itself; a lab keeps storing its events while Redis is down, the
failed publishes are logged, and a late joiner gets every event from the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portal.core.embedded import start_postgres, start_redis, stop_postgres, stop_redis
from portal.core.paths import DataLayout, layout_from
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

HEALTHZ_TOKEN = "outage-test-token"
FEISHU_KEY = "outage-encrypt-key"
FEISHU_TOKEN = "outage-verification-token"
FINAL = {"succeeded", "failed", "cancelled", "lost"}


def _headers(message: Any) -> dict[str, str]:
    """Header names in lower case (HTTP names are case-insensitive; uvicorn sends them so)."""
    return {name.lower(): value for name, value in message.items()}


@dataclass
class PrivatePortal:
    base: str
    data_dir: Path
    layout: DataLayout
    proc: subprocess.Popen
    log: Path
    env: dict[str, str]
    session: str = ""
    token: str = ""

    def get(self, path: str, *, bearer: bool = False) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if bearer else {}
        if self.session and not bearer:
            headers["Cookie"] = f"sessionid={self.session}"
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, _headers(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, _headers(exc.headers), exc.read()
        except OSError:
            return 0, {}, b""

    def post_json(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def deliver(self, event_id: str) -> tuple[int, dict[str, str], dict]:
        """Feishu delivering a signed, encrypted message event to /feishu/events."""
        from tests.feishu.fakefeishu import message_event, signed_request

        event = message_event(text="/help", token=FEISHU_TOKEN, event_id=event_id)
        body, headers = signed_request(event, encrypt_key=FEISHU_KEY)
        request = urllib.request.Request(
            self.base + "/feishu/events", data=body, headers=headers, method="POST"
        )
        try:
            # the web process's first event loads the Feishu SDK: slow on a busy machine
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, _headers(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _headers(exc.headers), json.loads(exc.read() or b"{}")

    def manage(self, code: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip()


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


SETUP_USER = """
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from portal.core.services import issue_api_token
user = User.objects.create_user("outage", password="outage-pw-123456")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(session.session_key, issue_api_token(user=user, name="outage")[1])
"""


@pytest.fixture(scope="module")
def private_portal() -> Iterator[PrivatePortal]:
    from tests.feishu.fakefeishu import start_fake_feishu

    data_dir = Path(tempfile.mkdtemp(prefix="aicp-fault-", dir="/tmp"))
    port = free_port()
    _fake, fake_server = start_fake_feishu()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_PORT=str(port),
        PYTHONUNBUFFERED="1",
        HEALTHZ_TOKEN=HEALTHZ_TOKEN,
        HEALTHZ_HEARTBEAT_S="1",
        PORTAL_BOOTSTRAP_COMMANDS="registerlabs",
        # The Feishu event endpoint is open; its replies go to a local fake of Feishu.
        FEISHU_APP_ID="cli_outage",
        FEISHU_APP_SECRET="outage-secret",
        FEISHU_ENCRYPT_KEY=FEISHU_KEY,
        FEISHU_VERIFICATION_TOKEN=FEISHU_TOKEN,
        FEISHU_BOT_OPEN_ID="ou_bot",
        FEISHU_DOMAIN=_fake.base_url,
        FEISHU_SWEEP_S="1",
    )
    log = data_dir / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    portal = PrivatePortal(
        base=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        layout=layout_from(data_dir),
        proc=proc,
        log=log,
        env=env,
    )
    try:
        _wait_for(
            lambda: proc.poll() is not None or portal.get("/healthz")[0] == 200,
            300,
            "the private portal",
            log,
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        portal.session, portal.token = portal.manage(SETUP_USER).split()[-2:]
        yield portal
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Whatever happened above, leave no private server running.
        subprocess.run(
            [sys.executable, "manage.py", "services", "stop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(data_dir, ignore_errors=True)
        if portal.layout.runtime != data_dir:
            shutil.rmtree(portal.layout.runtime, ignore_errors=True)
        fake_server.shutdown()


def test_stopping_postgresql_answers_503_with_retry_after_and_the_portal_recovers_alone(
    private_portal,
):
    portal = private_portal
    web_pid = portal.proc.pid
    assert portal.get("/dashboard/")[0] == 200
    assert portal.get("/api/auth/me", bearer=True)[0] == 200
    assert portal.deliver("outage-before")[0] == 200

    stop_postgres(portal.layout)
    try:
        for path, bearer in [("/dashboard/", False), ("/api/auth/me", True), ("/labs/", False)]:
            status, headers, body = portal.get(path, bearer=bearer)
            assert status == 503, (path, status, body[:300])
            assert headers.get("retry-after") == "5", path
            assert headers.get("content-type", "").startswith("application/json"), path
            assert "unavailable" in json.loads(body)["detail"]
        # A Feishu delivery (served beside Django) cannot be stored: 503, so Feishu retries.
        status, headers, answer = portal.deliver("outage-during")
        assert (status, headers.get("retry-after")) == (503, "5"), answer
        assert "unavailable" in answer["detail"]
        status, _headers, body = portal.get("/healthz")
        assert (status, json.loads(body)) == (503, {"status": "unavailable"})
    finally:
        start_postgres(portal.layout)

    _wait_for(lambda: portal.get("/dashboard/")[0] == 200, 60, "the dashboard after the restart")
    # Every web process recovers, not only the one that answered first: ten API calls in a
    # row succeed (each process's pool reconnects on its own, after its own back-off, so the
    # call right after the first 200 may still reach a process that is waiting to retry).
    _wait_for(
        lambda: all(portal.get("/api/auth/me", bearer=True)[0] == 200 for _ in range(10)),
        60,
        "every web process after the restart",
    )
    _wait_for(lambda: portal.get("/healthz")[0] == 200, 60, "/healthz after the restart")
    assert portal.proc.poll() is None and portal.proc.pid == web_pid
    # Feishu's retry of the refused delivery is stored now, as a first delivery, and the
    # relay (its PostgreSQL session lost with the server) listens again and queues it.
    status, _headers, answer = portal.deliver("outage-during")
    assert (status, answer.get("msg")) == (200, "success"), answer

    def answered() -> str | None:
        found = portal.manage(
            "from portal.feishu.models import FeishuEvent as E; "
            "print(sorted(E.objects.filter(event_id__startswith='outage-')"
            ".values_list('event_id', 'deliveries', 'status')))"
        ).splitlines()[-1]
        return found if "received" not in found else None

    assert _wait_for(answered, 60, "the events to be answered", portal.log) == (
        "[('outage-before', 1, 'done'), ('outage-during', 1, 'done')]"
    )


async def _replay(portal: PrivatePortal, run_id: int) -> list[int]:
    """A late joiner: open the run's websocket from seq 0 and read to the final status."""
    from websockets.asyncio.client import connect

    seqs: list[int] = []
    url = portal.base.replace("http://", "ws://") + f"/ws/runs/{run_id}/?after=0"
    async with connect(
        url,
        additional_headers={"Cookie": f"sessionid={portal.session}", "Origin": portal.base},
        max_size=None,
        open_timeout=20,
    ) as ws:
        async for raw in ws:
            for event in json.loads(raw)["events"]:
                seqs.append(event["seq"])
                if event["kind"] == "status" and event["data"]["status"] in FINAL:
                    return seqs
    return seqs


def test_restarting_redis_under_a_streaming_run_loses_no_event(private_portal):
    portal = private_portal
    status, created = portal.post_json(
        "/api/labs/pipeline-check/runs",
        {"params": {"events_per_second": 20, "duration_s": 12.0}},
    )
    assert status == 201, created
    run_id = created["id"]
    _wait_for(
        lambda: (
            json.loads(portal.get(f"/api/runs/{run_id}", bearer=True)[2] or b"{}").get("status")
            == "running"
        ),
        60,
        "the run to start",
        portal.log,
    )
    time.sleep(2)
    log_before = portal.log.stat().st_size

    stop_redis(portal.layout)
    time.sleep(3)  # the lab keeps emitting into the database meanwhile
    status, _h, body = portal.get(f"/api/runs/{run_id}/events?after=0&limit=1000", bearer=True)
    # A Feishu delivery needs no Redis: stored and acknowledged; its job waits for Redis.
    feishu_status, _h, answer = portal.deliver("redis-during")
    time.sleep(2)  # the relay tries to queue it meanwhile, and fails
    start_redis(portal.layout)
    assert feishu_status == 200, answer

    assert status == 200  # reading stored events needs no Redis
    during = [e["seq"] for e in json.loads(body)["events"]]
    assert during == list(range(1, len(during) + 1))

    def finished() -> dict | None:
        run = json.loads(portal.get(f"/api/runs/{run_id}", bearer=True)[2] or b"{}")
        return run if run.get("status") in FINAL else None

    run = _wait_for(finished, 120, "the run to finish", portal.log)
    assert run["status"] == "succeeded", run
    status, _h, body = portal.get(f"/api/runs/{run_id}/events?after=0&limit=5000", bearer=True)
    stored = [e["seq"] for e in json.loads(body)["events"]]
    assert stored == list(range(1, len(stored) + 1))
    assert len(stored) > len(during) > 0
    # The worker could not publish while Redis was down, said so, and carried on.
    logged = portal.log.read_bytes()[log_before:].decode(errors="replace")
    assert f"not published to labs.run.{run_id}" in logged
    # After the restart the channel layer works again and a late joiner misses nothing.
    assert asyncio.run(_replay(portal, run_id)) == stored

    # The relay could not queue it while Redis was down; its sweep queues it once Redis is
    # back, and it is answered (no retry from Feishu needed: the delivery got its 200).

    def event_status() -> str | None:
        found = portal.manage(
            "from portal.feishu.models import FeishuEvent as E; "
            "print(E.objects.get(event_id='redis-during').status)"
        ).splitlines()[-1]
        return found if found != "received" else None

    assert _wait_for(event_status, 60, "the event to be answered", portal.log) == "done"
