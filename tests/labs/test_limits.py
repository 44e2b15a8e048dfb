"""One user's run cannot exhaust the machine: events per run are capped, pages read a bounded
sample of the metric series and a page of the log, and long labs run on their own queue."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.labs import runner
from portal.labs.models import EventKind, Run, RunEvent, RunStatus
from portal.labs.services import NewEvent, append_events


def queued_run(owner, lab_id: str = "pipeline-check", **params) -> Run:
    return Run.objects.create(
        owner=owner,
        lab_id=lab_id,
        params=params,
        queue="cpu",
        time_limit_s=120,
        soft_time_limit_s=100,
    )


@pytest.mark.django_db(transaction=True)
def test_a_run_past_the_event_limit_fails_with_a_clear_message(owner, settings):
    settings.LABS_MAX_EVENTS_PER_RUN = 300
    run = queued_run(owner, events_per_second=20_000, duration_s=0.1, log_every=0)

    assert runner.execute_run(run.pk, worker="limits-test") == RunStatus.FAILED

    run.refresh_from_db()
    assert "more than 300 events" in run.error and "LABS_MAX_EVENTS_PER_RUN" in run.error
    assert run.traceback == ""
    # the lab's own events stop at the limit; the platform still records how the run ended
    assert RunEvent.objects.filter(run=run).exclude(kind=EventKind.STATUS).count() == 300
    assert run.last_seq <= 300 + 2


@pytest.mark.django_db(transaction=True)
def test_a_run_under_the_event_limit_succeeds(owner, settings):
    settings.LABS_MAX_EVENTS_PER_RUN = 300
    run = queued_run(owner, events_per_second=20_000, duration_s=0.01, log_every=0)
    assert runner.execute_run(run.pk, worker="limits-test") == RunStatus.SUCCEEDED


def test_the_default_event_limit_is_200k(settings):
    from portal.labs.conf import setting_int

    assert not hasattr(settings, "LABS_MAX_EVENTS_PER_RUN")
    assert setting_int("LABS_MAX_EVENTS_PER_RUN") == 200_000


def _metrics(run: Run, name: str, values: list[float]) -> None:
    now = timezone.now()
    batch = [
        NewEvent(EventKind.METRIC, {"name": name, "value": v, "step": i}, now)
        for i, v in enumerate(values)
    ]
    for start in range(0, len(batch), 5000):
        append_events(run.pk, batch[start : start + 5000])
