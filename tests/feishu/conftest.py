"""Feishu fixtures: a fake open platform, Feishu credentials, a worker on our own queue."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import child_env, start_worker, stop_process, wait_worker_idle
from tests.feishu.fakefeishu import FakeFeishu, start_fake_feishu

APP_ID = "cli_test_app"
APP_SECRET = "test-app-secret"
ENCRYPT_KEY = "test-encrypt-key-123"
VERIFICATION_TOKEN = "test-verification-token"
BOT_OPEN_ID = "ou_bot"
# Our own Celery queue, so a worker started by other apps' tests never takes our jobs.
QUEUE = f"feishu-test-{os.getpid()}"


@pytest.fixture(scope="session")
def fake_feishu_server() -> Iterator[FakeFeishu]:
    fake, server = start_fake_feishu()
    yield fake
    server.shutdown()
    server.server_close()


def _feishu_env(fake: FakeFeishu) -> dict[str, str]:
    return {
        "FEISHU_APP_ID": APP_ID,
        "FEISHU_APP_SECRET": APP_SECRET,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
        "FEISHU_DOMAIN": fake.base_url,
        "FEISHU_BOT_OPEN_ID": BOT_OPEN_ID,
        "FEISHU_QUEUE": QUEUE,
        "FEISHU_RETRY_BASE_S": "0.2",
        "FEISHU_DB_RETRY_S": "0.3",
        "KB_EMBEDDER": "fake",
        "KB_QUEUE": QUEUE,
        "KB_LLM_BACKEND": "extractive",
        "PORTAL_BASE_URL": "http://portal.test",
    }


@pytest.fixture
def fake_feishu(fake_feishu_server: FakeFeishu) -> Iterator[FakeFeishu]:
    fake_feishu_server.reset()
    yield fake_feishu_server
    fake_feishu_server.reset()


@pytest.fixture(autouse=True)
def feishu_settings(settings, fake_feishu_server: FakeFeishu) -> None:
    for name, value in _feishu_env(fake_feishu_server).items():
        setattr(settings, name, value)
    settings.FEISHU_WEBHOOK_URL = ""
    settings.FEISHU_WEBHOOK_SECRET = ""
    settings.FEISHU_RETRY_BASE_S = 0.2
    settings.KB_LLM_URL = ""
    settings.KB_ASK_RATE_LIMIT = 1000


WORKER_NAME = f"{QUEUE}@{socket.gethostname()}"
WORKER_APP = f"aicp-{QUEUE}"


@pytest.fixture(scope="session")
def feishu_worker_process(
    django_db_setup, django_db_blocker, fake_feishu_server: FakeFeishu, tmp_path_factory
) -> Iterator[subprocess.Popen]:
    """A real Celery worker on the test database, serving only this app's test queue."""
    proc = start_worker(
        queues=QUEUE,
        name=WORKER_NAME,
        log_path=tmp_path_factory.mktemp("feishu-worker") / "worker.log",
        # PGAPPNAME: a test can find (and end) the worker's own PostgreSQL connection
        env={**child_env(), **_feishu_env(fake_feishu_server), "PGAPPNAME": WORKER_APP},
        pool=("-P", "solo"),
    )
    yield proc
    stop_process(proc)


@pytest.fixture
def feishu_worker(feishu_worker_process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The session's worker; the test ends only once it has finished what the test queued,
    so nothing it writes races the database flush after the test."""
    yield feishu_worker_process
    wait_worker_idle(name=WORKER_NAME, queue=QUEUE)


def wait_until(predicate, timeout: float = 60, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def plan(db) -> None:  # noqa: ANN001
    """The real 16-week plan, loaded by the curriculum's own command."""
    from django.core.management import call_command

    call_command("loadcurriculum", verbosity=0)


@pytest.fixture
def core_papers(db) -> None:  # noqa: ANN001
    """The study plan's 28 core papers, loaded by the papers app's own command (offline)."""
    from django.core.management import call_command

    call_command("loadpapers", verbosity=0)


@pytest.fixture
def bound_owner(owner):  # noqa: ANN001, ANN201
    """The owner, linked to the Feishu user ou_owner."""
    from portal.feishu.models import FeishuBinding

    FeishuBinding.objects.create(user=owner, open_id="ou_owner", chat_id="oc_owner")
    return owner
