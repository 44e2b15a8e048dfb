"""Knowledge-base fixtures: the fake embedder, quoting only, the plan and the core papers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import child_env, start_worker, stop_process

# Our own Celery queue, so a worker started by other apps' tests never takes our jobs.
QUEUE = f"kb-test-{os.getpid()}"
KB_ENV = {"KB_EMBEDDER": "fake", "KB_LLM_BACKEND": "extractive", "KB_QUEUE": QUEUE}


@pytest.fixture(autouse=True)
def kb_settings(settings) -> None:  # noqa: ANN001
    for name, value in KB_ENV.items():
        setattr(settings, name, value)
    settings.KB_LLM_URL = ""
    settings.KB_ASK_RATE_LIMIT = 1000


@pytest.fixture(scope="session")
def kb_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """A real Celery worker on the test database, serving only the knowledge test queue."""
    proc = start_worker(
        queues=QUEUE,
        name=f"{QUEUE}@{socket.gethostname()}",
        log_path=tmp_path_factory.mktemp("kb-worker") / "worker.log",
        env={**child_env(), **KB_ENV},
        pool=("-P", "solo"),
    )
    yield proc
    stop_process(proc)


@pytest.fixture
def plan(db) -> None:  # noqa: ANN001
    """The real 16-week plan, loaded by the curriculum's own command."""
    from django.core.management import call_command

    call_command("loadcurriculum", verbosity=0)


@pytest.fixture
def indexed_plan(plan) -> None:  # noqa: ANN001
    """The plan and the curriculum ingested and embedded, as start-up indexing leaves them."""
    from portal.knowledge import services
    from portal.knowledge.models import Document, Source
    from portal.knowledge.sources import sync_sources

    sync_sources()
    for doc in Document.objects.filter(source__in=[Source.CURRICULUM, Source.PLAN]):
        services.embed_document(doc.pk)


@pytest.fixture
def core_papers(db) -> None:  # noqa: ANN001
    """The study plan's 28 core papers, loaded by the papers app's own command (offline)."""
    from django.core.management import call_command

    call_command("loadpapers", verbosity=0)


def wait_until(predicate, timeout: float = 60, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
