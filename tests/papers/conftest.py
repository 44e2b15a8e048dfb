"""Fixtures for the papers tests: a local fake arXiv, and the core list loaded / synced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.papers.models import Paper
from portal.papers.services import load_core_papers, sync_papers
from tests.papers.fake_arxiv import FakeArxiv, core_entries


@pytest.fixture(scope="session")
def fake_arxiv_server() -> Iterator[FakeArxiv]:
    server = FakeArxiv().start()
    yield server
    server.stop()


@pytest.fixture
def fake_arxiv(fake_arxiv_server: FakeArxiv, settings) -> FakeArxiv:
    """The fake arXiv, emptied, with the settings pointing at it: no spacing, fast retries."""
    fake_arxiv_server.reset()
    settings.ARXIV_API_URL = fake_arxiv_server.url
    settings.ARXIV_DELAY_SECONDS = 0
    settings.ARXIV_BACKOFF_SECONDS = 0
    settings.ARXIV_RETRIES = 2
    settings.ARXIV_TIMEOUT_SECONDS = 2
    return fake_arxiv_server


@pytest.fixture
def core_papers(db) -> list[Paper]:
    load_core_papers()
    return list(Paper.objects.core())


@pytest.fixture
def synced_core(core_papers, fake_arxiv: FakeArxiv) -> list[Paper]:
    """The core list loaded and synced from the fake arXiv (embedding tasks are not run)."""
    fake_arxiv.add(*core_entries())
    run = sync_papers()
    assert run.status == "ok", run.error
    fake_arxiv.requests.clear()
    return list(Paper.objects.core())
