from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, Field

from portal.labs.forms import params_form
from portal.labs.models import Run, RunArtifact, RunStatus
from portal.labs.registry import DeviceClass, Lab, LabResult, get_lab, register_lab
from portal.labs.services import NewEvent, append_events, launch_run, reap_lost_runs
from tests.labs.conftest import SMALL_BENCHMARK

pytestmark = pytest.mark.django_db


class _GpuParams(BaseModel):
    size: int = Field(default=8, ge=1, le=64, description="Matrix size.")


GPU_LAB = register_lab(
    Lab(
        id="test-gpu-only",
        title="GPU only (test)",
        description="A lab that needs a GPU.",
        params=_GpuParams,
        result=LabResult,
        run=lambda params, ctx: {"ok": True},
        device=DeviceClass.GPU,
    )
)


def _run(owner, lab_id: str = "system-benchmark", **params) -> Run:
    return launch_run(
        user=owner,
        lab=get_lab(lab_id),
        params={**SMALL_BENCHMARK, **params} if lab_id == "system-benchmark" else params,
    )


def test_the_labs_index_lists_every_lab_with_a_launch_form_from_its_schema(owner_client):
    response = owner_client.get("/labs/")

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="launch-system-benchmark"' in html
    assert 'id="launch-pipeline-check"' in html
    # ranges, choices, defaults and help text come from the pydantic schema
    assert 'name="system-benchmark-repeats"' in html and 'max="100"' in html
    assert 'value="bfloat16"' in html
    assert "报告中位数" in html  # the help text, in the default language
    assert 'id="workers"' in html


def test_the_launch_form_maps_schema_types_to_fields():
    form = params_form(get_lab("system-benchmark"))

    assert form.fields["repeats"].min_value == 1
    assert form.fields["repeats"].max_value == 100
    assert form.fields["repeats"].initial == 5
    assert [c for c, _ in form.fields["dtypes"].choices] == ["float32", "bfloat16", "float16"]
    assert form.fields["copy_sizes_mib"].prepare_value([1, 4]) == "1, 4"
    check = params_form(get_lab("pipeline-check"))
    assert check.fields["fail_at_s"].required is False
    assert type(check.fields["poll_cancel"]).__name__ == "BooleanField"


def test_posting_the_launch_form_starts_a_run_and_opens_its_page(owner_client, owner):
    response = owner_client.post(
        "/labs/lab/system-benchmark/",
        {
            "system-benchmark-copy_sizes_mib": "1, 2",
            "system-benchmark-matmul_sizes": "32",
            "system-benchmark-dtypes": ["float32"],
            "system-benchmark-repeats": "2",
            "system-benchmark-warmup": "0",
        },
    )

    run = Run.objects.get(owner=owner)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/labs/runs/{run.pk}/"
    assert run.params["copy_sizes_mib"] == [1, 2]
    assert run.params["dtypes"] == ["float32"]


def test_a_bad_launch_form_is_shown_again_with_its_errors(owner_client):
    response = owner_client.post(
        "/labs/lab/system-benchmark/",
        {"system-benchmark-copy_sizes_mib": "1, x", "system-benchmark-repeats": "0"},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Run.objects.exists()
    assert "errorlist" in response.content.decode()


def test_the_launch_form_answers_429_past_the_active_run_limit(owner_client, owner, settings):
    settings.LABS_MAX_ACTIVE_RUNS_PER_USER = 1
    _run(owner)

    response = owner_client.post(
        "/labs/lab/pipeline-check/",
        {
            "pipeline-check-events_per_second": "5",
            "pipeline-check-duration_s": "1",
            "pipeline-check-log_every": "0",
        },
    )

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert Run.objects.count() == 1


def test_the_run_page_renders_what_is_stored_and_where_to_resume(owner_client, owner):
    run = _run(owner)
    now = timezone.now()
    append_events(
        run.pk,
        [
            NewEvent("log", {"text": "hello from the lab"}, now),
            NewEvent("metric", {"name": "copy_bandwidth_gbps", "value": 12.5, "step": 1}, now),
            NewEvent("table", {"name": "peaks", "rows": [{"figure": "copy", "value": 12.5}]}, now),
        ],
    )

    response = owner_client.get(f"/labs/runs/{run.pk}/")

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "hello from the lab" in html
    assert "<h3>peaks</h3>" in html
    assert response.context["stream"]["last_seq"] == 4
    assert response.context["stream"]["metrics"] == {"copy_bandwidth_gbps": [[1, 12.5]]}
    assert "chart-4.6.1.umd.min.js" in html


def test_the_run_page_renders_only_the_status_partial_for_htmx(owner_client, owner):
    run = _run(owner)

    response = owner_client.get(f"/labs/runs/{run.pk}/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert 'id="run-status"' in html
    assert "<html" not in html


def test_a_gpu_lab_with_no_gpu_worker_is_shown_waiting_for_a_gpu_worker(
    owner_client, owner, settings
):
    settings.PORTAL_QUEUE_ROUTES = {"cpu": "cpu", "gpu": "gpu-vendor-x", "any": "cpu"}
    run = launch_run(user=owner, lab=GPU_LAB, params={})

    html = owner_client.get(f"/labs/runs/{run.pk}/").content.decode()

    assert run.queue == "gpu-vendor-x"
    assert "Waiting for a GPU worker" in html or "等待 GPU" in html
    assert 'id="run-waiting" class="notice" >' in html or 'id="run-waiting" class="notice">' in html


def test_the_worker_list_and_served_queues_come_from_the_workers_heartbeats(
    owner_client, owner, settings
):
    """No `celery inspect` in the request: a worker is listed, with its queues, while its
    heartbeat in Redis is current, and gone once it says goodbye."""
    from django.core.cache import cache

    from portal.core.health import beat, forget
    from portal.labs.workers import _CACHE_KEY, served_queues

    settings.PORTAL_QUEUE_ROUTES = {"cpu": "cpu", "gpu": "gpu-vendor-x", "any": "cpu"}
    run = launch_run(user=owner, lab=GPU_LAB, params={})
    beat("ghost@heartbeat-test", ["gpu-vendor-x"])
    try:
        cache.delete(_CACHE_KEY)
        assert "gpu-vendor-x" in served_queues()
        html = owner_client.get("/labs/").content.decode()
        assert "ghost@heartbeat-test" in html
        page = owner_client.get(f"/labs/runs/{run.pk}/").content.decode()
        assert 'id="run-waiting" class="notice" hidden' in page
    finally:
        forget("ghost@heartbeat-test")
    cache.delete(_CACHE_KEY)
    assert "gpu-vendor-x" not in served_queues()
    assert "ghost@heartbeat-test" not in owner_client.get("/labs/").content.decode()


def test_run_pages_are_for_the_owner_only(owner, other_client):
    run = _run(owner)

    assert other_client.get(f"/labs/runs/{run.pk}/").status_code == HTTPStatus.NOT_FOUND
    assert other_client.post(f"/labs/runs/{run.pk}/cancel/").status_code == HTTPStatus.NOT_FOUND
    anonymous = Client().get(f"/labs/runs/{run.pk}/")
    assert anonymous.status_code == HTTPStatus.FOUND
    assert "/accounts/login/" in anonymous["Location"]


def test_cancel_from_the_page_needs_post(owner_client, owner):
    run = _run(owner)

    assert (
        owner_client.get(f"/labs/runs/{run.pk}/cancel/").status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )
    response = owner_client.post(f"/labs/runs/{run.pk}/cancel/")
    assert response.status_code == HTTPStatus.FOUND
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_artifacts_download_for_the_owner_only(owner_client, other_client, owner, tmp_path):
    run = _run(owner)
    path = tmp_path / "report.csv"
    path.write_text("a,b\n1,2\n")
    RunArtifact.objects.create(run=run, name="report.csv", path=str(path), size=8)

    response = owner_client.get(f"/labs/runs/{run.pk}/artifacts/report.csv")

    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
    assert (
        other_client.get(f"/labs/runs/{run.pk}/artifacts/report.csv").status_code
        == HTTPStatus.NOT_FOUND
    )
    assert (
        owner_client.get(f"/labs/runs/{run.pk}/artifacts/nope.csv").status_code
        == HTTPStatus.NOT_FOUND
    )


def test_compare_puts_runs_of_one_lab_side_by_side(owner_client, owner):
    first, second = _run(owner), _run(owner, repeats=3)
    for run, value in ((first, 10.0), (second, 20.0)):
        append_events(
            run.pk,
            [
                NewEvent(
                    "metric",
                    {"name": "copy_bandwidth_gbps", "value": value, "step": 1},
                    timezone.now(),
                )
            ],
        )
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, result={"peak_copy_bandwidth_gbps": value}
        )

    response = owner_client.get(f"/labs/compare/?run={first.pk}&run={second.pk}")

    assert response.status_code == HTTPStatus.OK
    assert ("repeats", [2, 3]) in response.context["param_rows"]
    assert ("peak_copy_bandwidth_gbps", [10.0, 20.0]) in response.context["result_rows"]
    metrics = [r["metrics"] for r in response.context["compare_data"]["runs"]]
    assert metrics == [{"copy_bandwidth_gbps": [[1, 10.0]]}, {"copy_bandwidth_gbps": [[1, 20.0]]}]


def test_compare_refuses_runs_of_different_labs(owner_client, owner):
    a, b = _run(owner), launch_run(user=owner, lab=get_lab("pipeline-check"), params={})

    response = owner_client.get(f"/labs/compare/?run={a.pk}&run={b.pk}")

    assert response.context["runs"] == []


def test_the_reaper_marks_a_run_without_heartbeats_lost(owner, settings):
    settings.LABS_LOST_AFTER_S = 10
    run = _run(owner)
    old = timezone.now() - timedelta(seconds=30)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=old, heartbeat_at=old, worker="w1"
    )
    fresh = _run(owner)
    Run.objects.filter(pk=fresh.pk).update(
        status=RunStatus.RUNNING, started_at=old, heartbeat_at=timezone.now()
    )

    assert reap_lost_runs() == [run.pk]

    run.refresh_from_db()
    assert run.status == RunStatus.LOST
    assert "w1" in run.error
    assert run.events.last().data["status"] == "lost"
    assert Run.objects.get(pk=fresh.pk).status == RunStatus.RUNNING


def test_the_reaper_fails_a_run_killed_by_its_hard_time_limit(owner, settings):
    settings.LABS_LOST_AFTER_S = 10
    run = _run(owner)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=run.time_limit_s + 60),
        heartbeat_at=timezone.now() - timedelta(seconds=40),
    )

    reap_lost_runs()

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "time limit" in run.error


def test_the_reaper_is_scheduled_on_beat():
    from portal.celery import app

    entry = app.conf.beat_schedule["labs-reap-lost-runs"]
    assert entry["task"] == "labs.reap_lost_runs"


def test_registerlabs_validates_every_lab_and_is_idempotent(capsys):
    call_command("registerlabs")
    call_command("registerlabs")

    out = capsys.readouterr().out
    assert "system-benchmark" in out
    assert out.count("labs registered and valid") == 2


def test_the_dashboard_shows_the_latest_runs(owner_client, owner):
    run = _run(owner)

    html = owner_client.get("/dashboard/").content.decode()

    assert f"/labs/runs/{run.pk}/" in html


@pytest.mark.parametrize(
    ("lab_id", "chinese", "english"),
    [
        ("system-benchmark", ["系统基准测试", "拷贝大小（MiB）", "预热次数"], ["Copy sizes (MiB)"]),
        (
            "pipeline-check",
            ["流水线检查", "每秒事件数", "每秒发出的指标事件数。"],
            ["Events per second"],
        ),
        ("kernels", ["内核实验", "计时预算（毫秒）"], ["Timing budget (ms)"]),
        (
            "agent-sandbox",
            ["智能体沙盒", "并行环境数", "留空：根据 CPU 核数选择"],
            ["Parallel environments"],
        ),
        ("llm-quant", ["LLM 量化基准测试", "批大小"], ["Batch sizes"]),
        ("llm-serving", ["负载级别", "每级请求数"], ["Requests per level"]),
        ("llm-deploy", ["LLM 部署", "监听地址"], ["Listen on"]),
    ],
)
def test_the_launch_form_speaks_chinese_and_english_after_the_switch(
    owner_client, lab_id, chinese, english
):
    url = reverse("labs:lab", args=[lab_id])
    body = owner_client.get(url).content.decode()
    assert all(text in body for text in chinese), [t for t in chinese if t not in body]
    assert not any(text in body for text in english)

    owner_client.post(reverse("set_language"), {"language": "en"})
    body = owner_client.get(url).content.decode()
    assert all(text in body for text in english)
    assert not any(text in body for text in chinese)


def test_the_run_page_hands_the_status_badges_to_its_script(owner, owner_client):
    run = _run(owner)
    response = owner_client.get(reverse("labs:run", args=[run.pk]))
    stream = response.context["stream"]
    assert stream["badges"] == {status.value: status.badge for status in RunStatus}
    assert stream["badges"]["failed"] == "bad" and stream["badges"]["succeeded"] == "ok"
