"""Shared fixtures: personas, API clients, a real Celery worker, a real ASGI server, a browser."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from portal.core.services import issue_api_token

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple-42"

# A fast hasher in this process only (tests/hashers.py says why it is safe).
settings.PASSWORD_HASHERS = ["tests.hashers.QuickPBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _fresh_login_throttle() -> None:
    """Failed sign-ins of one test must not lock the personas out in the next."""
    from portal.core.ratelimit import reset_all_login_failures

    reset_all_login_failures()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request that switched the interface's language must not leave it for the next test.

    Django's test client runs requests in the test's own thread, so the language a request's
    middleware activated stays active there after the response.
    """
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)


# --- personas -----------------------------------------------------------------------------


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("owner", "owner@example.com", PASSWORD)


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user("other", "other@example.com", PASSWORD)


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(
        "staff", "staff@example.com", PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def other_client(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def owner_token(owner) -> str:
    return issue_api_token(user=owner, name="tests")[1]


@pytest.fixture
def api(owner_token) -> Client:
    """A client that authenticates with the owner's Bearer token (no session, no CSRF)."""
    return Client(headers={"Authorization": f"Bearer {owner_token}"})


def tasks_on_commit(callbacks: list) -> list:
    """The on-commit callbacks a test means: the page cache's version bumps left out."""
    from portal.core.pagecache import VersionBump

    return [callback for callback in callbacks if not isinstance(callback, VersionBump)]


# --- real processes -----------------------------------------------------------------------


def _ephemeral_range() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port() -> int:
    """A port that is free now and stays out of the kernel's ephemeral range.

    A port the kernel hands out (bind to 0) is also the pool it draws client ports from:
    while a server under test takes seconds to start, another worker's outgoing
    connection can take that very port, and the server then finds it "in use".
    """
    ephemeral = _ephemeral_range()
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        if port in ephemeral:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port outside the ephemeral range")


def child_env() -> dict[str, str]:
    """Environment for a subprocess that must see the test database and the test Redis."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}:@/{db['NAME']}?host={db['HOST']}",
        "REDIS_URL": settings.REDIS_URL,
        "PORTAL_DATA_DIR": str(settings.DATA_LAYOUT.root),
        "PYTHONUNBUFFERED": "1",
    }


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_worker(
    *,
    queues: str,
    name: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    pool: tuple[str, ...] = ("-c", "1"),
    wait: bool = True,
    **popen_kwargs: object,
) -> subprocess.Popen:
    """A real Celery worker subprocess on the test database, serving `queues`.

    With `wait`, returns once the worker answers a ping (or raises with its log).
    The caller stops it with `stop_process()`.
    """
    from portal.celery import app

    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues, *pool,
         "-n", name, "-l", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env or child_env(), stdout=log_file, stderr=subprocess.STDOUT,
        **popen_kwargs,
    )  # fmt: skip
    log_file.close()  # the child keeps its own descriptor
    proc.log_path = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + 90
    while wait and not app.control.ping(destination=[name], timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(
                f"celery worker {name} did not start:\n{log_path.read_text()[-4000:]}"
            )
    return proc


def wait_worker_idle(*, name: str, queue: str, timeout: float = 60) -> None:
    """Block until the worker `name` runs, holds and schedules nothing and `queue` is empty.

    A test whose worker is still writing when the test ends races the database flush that
    follows it (TRUNCATE against the worker's open transaction can deadlock). A solo-pool
    worker answers control messages only between tasks, so no answer means busy.
    """
    import redis

    from portal.celery import app

    inspect = app.control.inspect(destination=[name], timeout=0.5)
    deadline = time.monotonic() + timeout
    idle_in_a_row = 0
    # the broker, in redis-py spelling
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        while idle_in_a_row < 2:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {name} still busy after {timeout} s")
            queued = client.llen(queue)
            answers = [inspect.active(), inspect.reserved(), inspect.scheduled()]
            idle = queued == 0 and all(a and not a.get(name) for a in answers)
            idle_in_a_row = idle_in_a_row + 1 if idle else 0
            if not idle:
                time.sleep(0.1)


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[subprocess.Popen]:
    """A real Celery worker (separate process) on the test database, serving the cpu, gpu and
    long (llm-deploy) queues and, like the worker `manage.py up` starts, the feishu queue.

    Tests that use it must be `django_db(transaction=True)` so the worker sees their rows.
    """
    proc = start_worker(
        queues="cpu,gpu,feishu,long",
        name=f"test-{os.getpid()}@{socket.gethostname()}",
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
        # No relay: stored Feishu events are the Feishu tests' worker's to queue (its own
        # queue, its fake Feishu), and both workers share the test database.
        env={**child_env(), "FEISHU_RELAY": "0"},
    )
    yield proc
    stop_process(proc)


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """daphne serving the portal (HTTP + websockets) on the test database; yields its base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    log_file = log_path.open("wb")
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
        env=child_env(),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{log_path.read_text()[-4000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)
    log_file.close()


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    """Debian's Chromium driven by Playwright (headless). `make test` installs it.

    Function-scoped: Playwright's sync API runs an event loop in this thread
    while it is open, which must not leak into the async tests that follow.
    """
    if os.environ.get("PORTAL_SKIP_BROWSER") == "1":
        pytest.skip("PORTAL_SKIP_BROWSER=1")
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: run scripts/install-browser.sh (make test does)")
    from playwright.sync_api import sync_playwright

    # The test body checks the database while Playwright's loop is running in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


FLUSH_ATTEMPTS = 3


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_a_lock_conflict() -> Iterator[None]:
    """The flush after a transactional test tries again when PostgreSQL aborts it.

    The test database is shared with live processes that write on their own schedule: the
    session's Celery workers (their HAL telemetry row every two seconds, their tasks), daphne.
    The flush is one TRUNCATE of every table; PostgreSQL may end it as one side of a
    deadlock, or a backend of it may be ended, and Django then reports only "couldn't be
    flushed" (CI failed so once, in tests/core/test_healthz.py). That says nothing about the
    test, so the flush is tried again; should every attempt fail, the error names what
    PostgreSQL said.
    """
    from django.core.management.base import CommandError
    from django.core.management.commands import flush
    from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

    original = flush.Command.handle

    def handle(self, *args: object, **options: object) -> object:
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                cause = exc.__cause__
                if not isinstance(cause, DatabaseError):
                    raise
                if attempt == FLUSH_ATTEMPTS:
                    raise CommandError(f"{exc}\nPostgreSQL said: {cause}") from cause
                sys.stderr.write(f"flush attempt {attempt} failed ({cause}); trying again\n")
                connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
                if not connection.is_usable():  # its backend was ended: connect again
                    connection.close()
                time.sleep(0.5 * attempt)
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session", autouse=True)
def _drop_stray_test_db_connections(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Let the test database be dropped at the end.

    Channels runs ORM calls of in-process consumers in worker threads whose
    connections outlive the tests; terminate them (and any left by subprocesses)
    before pytest-django drops the database.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.gpu` tests run where torch sees a CUDA GPU and are skipped, saying why, elsewhere."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    reason = f"needs a CUDA GPU: torch {torch.__version__} sees none on this machine"
    for item in gpu_items:
        item.add_marker(pytest.mark.skip(reason=reason))
