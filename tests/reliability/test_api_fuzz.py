"""Fuzz the whole API from its own OpenAPI schema (schemathesis): no input may cause a 500.

Every operation gets valid and invalid (negative) examples, authenticated with
the owner's Bearer token, against the in-process app (Django's WSGI handler on
the test database). Tasks are not enqueued and arXiv is a local fake that
fails fast, so the run is bounded (about a minute on two cores).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from django.core.signals import got_request_exception
from django.core.wsgi import get_wsgi_application

from tests.papers.fake_arxiv import FakeArxiv

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def no_task_queue(monkeypatch) -> None:
    """Launches and syncs commit their rows but send nothing to the (shared) broker."""
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)


@pytest.fixture
def dead_arxiv(settings) -> Iterator[None]:
    server = FakeArxiv().start()
    server.statuses = [503] * 10_000  # every request fails at once: no network, no waiting
    settings.ARXIV_API_URL = server.url
    settings.ARXIV_DELAY_SECONDS = 0
    settings.ARXIV_BACKOFF_SECONDS = 0
    settings.ARXIV_RETRIES = 0
    settings.ARXIV_TIMEOUT_SECONDS = 1
    yield
    server.stop()


def test_no_generated_request_to_any_api_operation_gets_a_server_error(
    owner_token, other_user, no_task_queue, dead_arxiv
):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    logging.getLogger("django.request").setLevel(logging.ERROR)  # thousands of expected 4xx
    logging.getLogger("portal.api").setLevel(logging.ERROR)
    errors: list[str] = []

    def record(sender, request=None, **kwargs):
        import sys
        import traceback

        errors.append("".join(traceback.format_exception(*sys.exc_info())[-6:]))

    got_request_exception.connect(record)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
    auth = {"Authorization": f"Bearer {owner_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40, "the schema lost its operations"
    try:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                def call(case) -> None:
                    errors.clear()
                    response = case.call(headers=auth)
                    if response.status_code >= 500:
                        failures.append(
                            f"{case.method} {case.formatted_path} {case.path_parameters} "
                            f"query={case.query} body={case.body!r:.200} -> "
                            f"{response.status_code}\n{''.join(errors)}"
                        )

                call()
    finally:
        got_request_exception.disconnect(record)
        logging.getLogger("django.request").setLevel(logging.NOTSET)
        logging.getLogger("portal.api").setLevel(logging.NOTSET)
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:10])
