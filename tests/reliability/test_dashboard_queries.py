"""The dashboard costs the same number of queries however much a person has done (every panel)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _activity(user, n: int, start: int = 0) -> None:
    from portal.knowledge.models import Document
    from portal.labs.models import Run, RunEvent

    for i in range(start, start + n):
        run = Run.objects.create(
            owner=user,
            lab_id="pipeline-check" if i % 2 else "system-benchmark",
            params={},
            queue="cpu",
            status=["succeeded", "failed", "running"][i % 3],
            time_limit_s=60,
            soft_time_limit_s=50,
            result={"i": i},
            last_seq=3,
        )
        RunEvent.objects.bulk_create(
            RunEvent(run=run, seq=s, kind="log", ts=timezone.now(), data={"text": "x"})
            for s in range(1, 4)
        )
        Document.objects.create(
            owner=user,
            source="upload",
            source_key=f"file:{user.pk}-{i}.md",
            title=f"d{i}",
            content="x",
        )


def test_the_dashboard_query_count_does_not_grow_with_runs_and_documents(
    owner_client, owner, other_user
):
    _activity(owner, 1)
    small = _queries(owner_client)
    _activity(owner, 30, start=1)
    _activity(other_user, 10)
    large = _queries(owner_client)
    assert large == small, f"{small} queries with 1 run/document, {large} with 31"
