"""The periodic watch-query job and the sync task, run by a real Celery worker process."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from portal.celery import app
from portal.papers.apps import WATCH_BEAT_KEY
from portal.papers.models import InboxItem, Paper, SyncKind, SyncRun, SyncStatus, WatchQuery
from portal.papers.services import load_core_papers
from portal.papers.tasks import run_watch_queries_task, run_watch_query_task, sync_papers_task
from tests.conftest import child_env, start_worker, stop_process
from tests.papers.fake_arxiv import FakeEntry, core_entries


def _wait_for(predicate, timeout: float = 60) -> None:
    """There is no result backend: the database is where a task's outcome lives."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not finish in time")
        time.sleep(0.2)


def test_the_watch_job_is_on_the_beat_schedule():
    entry = app.conf.beat_schedule[WATCH_BEAT_KEY]
    assert entry["task"] == run_watch_queries_task.name
    assert entry["task"] in app.tasks
    assert entry["schedule"].total_seconds() == 360 * 60


@pytest.fixture(scope="module")
def papers_worker(
    django_db_setup, django_db_blocker, fake_arxiv_server, tmp_path_factory
) -> Iterator[str]:
    """A Celery worker on its own queue whose arXiv is the fake (the shared worker's is not)."""
    queue = f"papers-test-{os.getpid()}"
    env = {
        **child_env(),
        "ARXIV_API_URL": fake_arxiv_server.url,
        "ARXIV_DELAY_SECONDS": "0",
        "ARXIV_BACKOFF_SECONDS": "0",
        "ARXIV_TIMEOUT_SECONDS": "5",
    }
    proc = start_worker(
        queues=queue,
        name=f"{queue}@{socket.gethostname()}",
        log_path=tmp_path_factory.mktemp("papers-worker") / "worker.log",
        env=env,
    )
    yield queue
    stop_process(proc)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_watch_job_and_fills_the_owners_inbox(
    papers_worker, fake_arxiv, owner, other_user
):
    base = core_entries()[-1].published
    fake_arxiv.add(
        FakeEntry(
            "2502.00001",
            "Speculative decoding on an NPU",
            "We study speculative decoding.",
            ["A B"],
            base,
            base,
        ),
        FakeEntry(
            "2502.00002",
            "Cache-aware speculative decoding",
            "More speculative decoding.",
            ["C D"],
            base,
            base,
        ),
    )
    watch = WatchQuery.objects.create(user=owner, name="spec", query='abs:"speculative decoding"')

    run_watch_queries_task.apply_async(queue=papers_worker)

    _wait_for(lambda: SyncRun.objects.filter(watch=watch, finished_at__isnull=False).exists())
    assert sorted(
        InboxItem.objects.filter(user=owner).values_list("paper__arxiv_id", flat=True)
    ) == [
        "2502.00001",
        "2502.00002",
    ]
    assert not InboxItem.objects.filter(user=other_user).exists()
    watch.refresh_from_db()
    assert watch.last_success_at is not None and watch.last_new_count == 2
    assert fake_arxiv.requests[0]["search_query"] == 'abs:"speculative decoding"'


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_a_queued_core_sync_once(papers_worker, fake_arxiv, owner):
    load_core_papers()
    fake_arxiv.add(*core_entries())
    run = SyncRun.objects.create(kind=SyncKind.CORE)

    sync_papers_task.apply_async((run.pk,), queue=papers_worker)
    _wait_for(lambda: SyncRun.objects.get(pk=run.pk).is_finished)
    sync_papers_task.apply_async((run.pk,), queue=papers_worker)  # delivered twice: a no-op
    # One worker process takes its queue in order: once this later task is done, so is the duplicate.
    marker = WatchQuery.objects.create(user=owner, name="marker", query="abs:nothing-matches")
    run_watch_query_task.apply_async((marker.pk,), queue=papers_worker)
    _wait_for(lambda: SyncRun.objects.filter(watch=marker, finished_at__isnull=False).exists())

    run.refresh_from_db()
    assert (run.status, run.fetched) == (SyncStatus.OK, 28)
    assert Paper.objects.core().exclude(title="").count() == 28
    assert [bool(request.get("id_list")) for request in fake_arxiv.requests] == [True, False]
