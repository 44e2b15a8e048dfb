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


def _json_script(html: str, element_id: str) -> dict:
    import json

    start = html.index(f'id="{element_id}"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])


@pytest.mark.django_db
def test_the_run_and_compare_pages_downsample_long_series_keeping_min_and_max(owner, owner_client):
    run = queued_run(owner)
    values = [float(i % 7) for i in range(10_000)]
    values[5123], values[7777] = 1000.0, -1000.0  # a spike each way
    _metrics(run, "loss", values)
    _metrics(run, "short", [1.0, 2.0, 3.0])

    html = owner_client.get(f"/labs/runs/{run.pk}/").content.decode()
    metrics = _json_script(html, "run-stream")["metrics"]
    loss = metrics["loss"]
    assert 1000 < len(loss) <= 2000
    steps = [step for step, _value in loss]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 9_999
    assert [5123, 1000.0] in loss and [7777, -1000.0] in loss
    # each bucket's min and max, and the last point
    assert {value for _step, value in loss} == {-1000.0, 0.0, 6.0, 1000.0, values[-1]}
    assert metrics["short"] == [[0, 1.0], [1, 2.0], [2, 3.0]]

    other = queued_run(owner)
    _metrics(other, "loss", [0.5] * 2_500)
    html = owner_client.get(f"/labs/compare/?run={run.pk}&run={other.pk}").content.decode()
    compared = {r["id"]: r["metrics"] for r in _json_script(html, "compare-data")["runs"]}
    assert len(compared[run.pk]["loss"]) <= 2000 and [5123, 1000.0] in compared[run.pk]["loss"]
    assert len(compared[other.pk]["loss"]) <= 2000


@pytest.mark.django_db
def test_a_series_at_the_limit_is_shown_whole(owner, owner_client):
    run = queued_run(owner)
    _metrics(run, "loss", [float(i) for i in range(2000)])
    html = owner_client.get(f"/labs/runs/{run.pk}/").content.decode()
    assert _json_script(html, "run-stream")["metrics"]["loss"] == [
        [i, float(i)] for i in range(2000)
    ]


@pytest.mark.django_db
def test_the_run_page_shows_the_latest_tables_and_pages_through_the_log(owner, owner_client):
    run = queued_run(owner)
    now = timezone.now()
    append_events(
        run.pk, [NewEvent(EventKind.LOG, {"text": f"line {i}"}, now) for i in range(1200)]
    )
    for version in range(3):
        append_events(
            run.pk, [NewEvent(EventKind.TABLE, {"name": "t", "rows": [{"v": version}]}, now)]
        )

    html = owner_client.get(f"/labs/runs/{run.pk}/").content.decode()
    assert "line 1199" in html and "line 700\n" in html and "line 699\n" not in html
    assert '"v": 2' in html or "2</td>" in html
    older = html.split('href="?log_before=')[1].split('"')[0]

    html = owner_client.get(f"/labs/runs/{run.pk}/?log_before={older}").content.decode()
    assert "line 699\n" in html and "line 200\n" in html and "line 199\n" not in html
    assert "line 700\n" not in html and "data-paged" in html
    oldest = html.split('href="?log_before=')[1].split('"')[0]

    html = owner_client.get(f"/labs/runs/{run.pk}/?log_before={oldest}").content.decode()
    assert "line 0\n" in html and "line 199\n" in html and "line 200\n" not in html
    assert 'href="?log_before=' not in html


@pytest.mark.django_db
def test_a_deployment_is_queued_on_the_long_queue_and_other_labs_are_not(owner):
    from portal.labs.registry import get_lab
    from portal.labs.services import launch_run

    deploy = launch_run(user=owner, lab=get_lab("llm-deploy"), params={"model": "tiny-random"})
    bench = launch_run(user=owner, lab=get_lab("pipeline-check"), params={})
    assert deploy.queue == "long" and bench.queue == "cpu"


def test_manage_py_up_starts_a_worker_for_the_long_queue_beside_the_main_one(settings, tmp_path):
    from portal.core.management.commands.up import worker_commands

    settings.PORTAL_WORKER_QUEUES = ["cpu"]
    commands = dict(worker_commands(tmp_path / "celerybeat-schedule"))
    assert set(commands) == {"worker", "worker-feishu", "worker-long"}
    main, long = commands["worker"], commands["worker-long"]
    assert main[main.index("-Q") + 1] == "cpu" and "--beat" in main
    assert long[long.index("-Q") + 1] == "long" and long[long.index("-c") + 1] == "1"
    assert "--beat" not in long

    settings.PORTAL_LONG_WORKER_CONCURRENCY = 0  # a deployment with its own long worker
    assert set(dict(worker_commands(tmp_path / "s"))) == {"worker", "worker-feishu"}
