"""`manage.py up` (what `make run` calls), as a person uses it: start, Ctrl-C, start again, SIGKILL."""

from __future__ import annotations

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
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
HEALTHZ_TOKEN = "up-test-healthz-token"


def _healthz(base: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + "/healthz", headers={"Authorization": f"Bearer {HEALTHZ_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_PORT=str(port),
        PYTHONUNBUFFERED="1",
        HEALTHZ_TOKEN=HEALTHZ_TOKEN,
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "up"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(proc: subprocess.Popen, base: str, log: Path, timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"up exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        status, _ = _healthz(base)
        if status == 200:
            return time.monotonic() - started
        time.sleep(0.3)
    raise AssertionError(f"/healthz never answered 200:\n{log.read_text()[-3000:]}")


def _portal_processes(data_dir: Path) -> list[psutil.Process]:
    """Server processes that belong to this data directory (postgres, redis) or this port's children."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if str(data_dir) in cmd:
            found.append(proc)
    return found


def _wait_gone(data_dir: Path, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = _portal_processes(data_dir)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _portal_processes(data_dir)
    return left


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="aicp-up-", dir="/tmp"))
    yield path
    # Whatever happened, leave no server behind.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PORTAL_DATA_DIR"] = str(path)
    for proc in _portal_processes(path):
        if "manage.py" in " ".join(proc.cmdline()):
            proc.kill()
    subprocess.run(
        [sys.executable, "manage.py", "services", "stop"], cwd=ROOT, env=env, capture_output=True
    )
    shutil.rmtree(path, ignore_errors=True)


def test_up_starts_everything_stops_cleanly_restarts_with_its_data_and_survives_sigkill(data_dir):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "up.log"

    # 1. Cold start: embedded PostgreSQL + Redis, migrations, content, web, worker.
    proc = _start(data_dir, port, log)
    cold = _wait_healthy(proc, base, log)
    status, body = _healthz(base)
    assert body["checks"]["worker"]["ok"] and "pgvector" in body["checks"]["database"]["detail"]
    # Chat replies and notifications (feishu) and hours-long labs (llm-deploy, long) have
    # workers of their own, not a slot of the lab worker's.
    commands = [" ".join(p.cmdline()) for p in _portal_processes(data_dir)]
    assert any("-Q feishu" in c for c in commands), commands
    assert any("-Q long" in c for c in commands), commands

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PORTAL_DATA_DIR"] = str(data_dir)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth.models import User; User.objects.create_user('kept', password='pw-kept-123456')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    # 2. Ctrl-C stops every process it started.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert _wait_gone(data_dir) == []
    assert "Stopped." in log.read_text()

    # 3. Warm start keeps the data.
    proc = _start(data_dir, port, log)
    warm = _wait_healthy(proc, base, log)
    request = urllib.request.Request(
        base + "/api/auth/token",
        data=json.dumps({"username": "kept", "password": "pw-kept-123456"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201

    # 4. SIGKILL the supervisor: its children die with it; the next start recovers the servers.
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while _healthz(base)[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _healthz(base)[0] == 0, "the web server outlived a SIGKILLed supervisor"
    proc = _start(data_dir, port, log)
    _wait_healthy(proc, base, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _wait_gone(data_dir) == []
    print(f"\nmanage.py up: cold start {cold:.1f} s, warm start {warm:.1f} s to /healthz 200")


def _web_workers(up: subprocess.Popen) -> tuple[psutil.Process, list[psutil.Process]]:
    """The uvicorn supervisor `up` started and its live web worker processes."""
    for child in psutil.Process(up.pid).children():
        if "uvicorn" in " ".join(child.cmdline()):
            workers = [
                p for p in child.children() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            ]
            # multiprocessing's resource tracker is a child too; it does not serve requests.
            return child, [p for p in workers if "resource_tracker" not in " ".join(p.cmdline())]
    raise AssertionError("manage.py up started no uvicorn process")


def _celery_worker(up: subprocess.Popen, name: str, required: bool = True) -> psutil.Process | None:
    """The Celery worker `up` started with `-n <name>...` (its main process)."""
    for child in psutil.Process(up.pid).children():
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        if "celery" in " ".join(cmd) and any(part.startswith(name) for part in cmd):
            return child
    if required:
        raise AssertionError(f"no celery worker {name} under up")
    return None


def test_up_serves_from_several_web_processes_and_replaces_one_that_dies(data_dir):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "up.log"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_PORT=str(port),
        PORTAL_WEB_WORKERS="2",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    _wait_healthy(proc, base, log)
    supervisor, workers = _web_workers(proc)
    assert len(workers) == 2, [w.cmdline() for w in workers]
    assert "uvicorn with 2 worker process(es)" in log.read_text()
    # A Celery worker serves the feishu queue (its own, unless PORTAL_WORKER_QUEUES lists it).
    queues = [
        c.cmdline()[c.cmdline().index("-Q") + 1].split(",")
        for c in psutil.Process(proc.pid).children()
        if "celery" in " ".join(c.cmdline()) and "-Q" in c.cmdline()
    ]
    assert any("feishu" in q for q in queues), f"no worker for the feishu queue: {queues}"
    # The workers yield the two cores to the web processes (PORTAL_WORKER_NICE, 10).
    assert supervisor.nice() == 0 and all(w.nice() == 0 for w in workers)
    assert _celery_worker(proc, "feishu@").nice() == 10
    assert _celery_worker(proc, "cpu@").nice() == 10

    # A web process crashes: the others keep answering and the supervisor starts a new one.
    victim = workers[0]
    victim.kill()
    victim.wait(timeout=10)
    assert _healthz(base)[0] == 200
    deadline = time.monotonic() + 60
    replaced: list[psutil.Process] = []
    while time.monotonic() < deadline:
        _, replaced = _web_workers(proc)
        if len(replaced) == 2 and victim.pid not in {w.pid for w in replaced}:
            break
        time.sleep(0.5)
    assert len(replaced) == 2 and victim.pid not in {w.pid for w in replaced}, (
        f"the dead web process was not replaced:\n{log.read_text()[-3000:]}"
    )
    # The new one serves too: enough requests reach both processes.
    assert all(_healthz(base)[0] == 200 for _ in range(6))
    assert proc.poll() is None and supervisor.is_running()

    # A Celery worker dies (a Redis outage can end one): `up` starts it again, and stays up.
    feishu = _celery_worker(proc, "feishu@")
    feishu.kill()
    feishu.wait(timeout=10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        again = _celery_worker(proc, "feishu@", required=False)
        if again is not None and again.pid != feishu.pid:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the feishu worker was not started again:\n{log.read_text()[-3000:]}")
    assert proc.poll() is None
    assert "The worker-feishu process exited with status -9; starting it again." in log.read_text()

    # Ctrl-C still stops every process, the web processes included.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in replaced)
    assert _wait_gone(data_dir) == []


def test_the_web_command_runs_uvicorn_with_the_asked_workers_or_one_daphne():
    from portal.core.management.commands.up import web_command

    uvicorn = web_command("uvicorn", "127.0.0.1", 8123, 3)
    assert uvicorn[1:4] == ["-m", "uvicorn", "portal.asgi:application"]
    assert uvicorn[uvicorn.index("--workers") + 1] == "3"
    assert "--no-proxy-headers" in uvicorn
    daphne = web_command("daphne", "127.0.0.1", 8123, 3)
    assert daphne[1:3] == ["-m", "daphne"] and "--workers" not in daphne
