"""llm-deploy keeps a server up until cancelled; active_deployment() finds it for the answerer."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from pydantic import ValidationError

from portal.labs.llm.deploy import (
    DEPLOY_LAB_ID,
    DEPLOYMENT_TABLE,
    active_deployment,
    active_deployment_url,
)
from portal.labs.models import Run, RunStatus
from portal.labs.registry import get_lab
from portal.labs.services import NewEvent, append_events
from portal.labs.testing import RecordingContext
from tests.labs.conftest import wait_for
from tests.llm.processes import live_in_group


class CancellableContext(RecordingContext):
    """RecordingContext with a cancel button, for a lab running in another thread."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def deployment_rows(self) -> list[dict]:
        return [t["rows"][0] for t in self.of_kind("table") if t["name"] == DEPLOYMENT_TABLE]


def pid_gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


def test_deploy_rejects_bad_parameters():
    lab = get_lab(DEPLOY_LAB_ID)
    for bad in ({"hours": 0}, {"hours": 6}, {"port": 80}, {"host": "8.8.8.8"}, {"server": "tgi"}):
        with pytest.raises(ValidationError):
            lab.validate(bad)
    assert lab.validate({}).server == "transformers-cb"


def make_run(owner, *, status=RunStatus.RUNNING, heartbeat_age_s: float = 0.0, rows=None) -> Run:
    now = timezone.now()
    run = Run.objects.create(
        owner=owner,
        lab_id=DEPLOY_LAB_ID,
        params={},
        status=status,
        queue="cpu",
        time_limit_s=600,
        soft_time_limit_s=500,
        started_at=now,
        heartbeat_at=now - timedelta(seconds=heartbeat_age_s),
    )
    if rows is not None:
        append_events(run.pk, [NewEvent("table", {"name": DEPLOYMENT_TABLE, "rows": rows}, now)])
    return run


def serving_row(url: str, state: str = "serving") -> dict:
    return {
        "state": state,
        "url": url,
        "model": "tiny-random",
        "server": "transformers",
        "pid": 1,
        "since": timezone.now().isoformat(),
    }


@pytest.mark.django_db
def test_active_deployment_is_the_newest_running_deploy_run_that_is_serving(owner, other_user):
    assert active_deployment() is None and active_deployment_url() is None
    make_run(owner, rows=None)  # still starting: no URL yet
    assert active_deployment() is None
    make_run(owner, status=RunStatus.CANCELLED, rows=[serving_row("http://127.0.0.1:1/v1")])
    make_run(owner, heartbeat_age_s=3600, rows=[serving_row("http://127.0.0.1:2/v1")])  # lost
    make_run(owner, rows=[serving_row("http://127.0.0.1:3/v1", state="stopping")])
    assert active_deployment() is None
    older = make_run(owner, rows=[serving_row("http://127.0.0.1:4/v1")])
    newer = make_run(other_user, rows=[serving_row("http://127.0.0.1:5/v1")])
    deployment = active_deployment()
    assert (deployment.run_id, deployment.base_url, deployment.model) == (
        newer.pk,
        "http://127.0.0.1:5/v1",
        "tiny-random",
    )
    assert active_deployment(owner_id=owner.pk).run_id == older.pk
    # nothing listens on those ports: a checked lookup finds none
    assert active_deployment(check=True, timeout_s=0.5) is None


@pytest.mark.django_db
def test_a_deployment_serves_chat_completions_until_cancelled_then_its_server_is_gone(
    owner, tiny_model_dir
):
    lab = get_lab(DEPLOY_LAB_ID)
    params = lab.validate({"model": "tiny-random", "check_interval_s": 0.5, "hours": 0.5})
    ctx = CancellableContext()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = lab.run(params, ctx)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="deploy", daemon=True)
    thread.start()
    try:
        row = wait_for(
            lambda: next(iter(ctx.deployment_rows()), None),
            timeout=120,
            what="the deployment table",
        )
        assert row["state"] == "serving" and row["url"].startswith("http://127.0.0.1:")
        # transformers serve answers under the directory's name, as GET /v1/models lists it
        assert row["url"].endswith("/v1") and row["model"] == str(tiny_model_dir)
        listed = httpx.get(f"{row['url']}/models", timeout=10).json()["data"]
        assert [m["id"] for m in listed] == [row["model"]]
        reply = httpx.post(
            f"{row['url']}/chat/completions",
            json={
                "model": row["model"],
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 4,
            },
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["role"] == "assistant"
        # the run page shows the URL; health checks stream as a metric
        assert any(row["url"] in d["note"] for d in ctx.of_kind("progress"))
        wait_for(lambda: ctx.series("health_ms"), timeout=20, what="a health check")

        # the answerer's lookup finds it through the run row the worker keeps
        make_run(owner, rows=[row])
        assert active_deployment_url(check=True) == row["url"]
    finally:
        ctx.cancel.set()
        thread.join(timeout=30)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result["ended"] == "cancelled" and result["url"] == row["url"]
    assert ctx.deployment_rows()[-1]["state"] == "stopping"
    assert pid_gone(row["pid"])
    # nothing of its process group is left (transformers serve runs a batching thread)
    assert live_in_group(row["pid"]) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{row['url']}/models", timeout=2)


def test_a_deployment_whose_server_dies_fails_the_run():
    lab = get_lab(DEPLOY_LAB_ID)
    params = lab.validate({"model": "tiny-random", "check_interval_s": 0.5})
    ctx = CancellableContext()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = lab.run(params, ctx)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="deploy", daemon=True)
    thread.start()
    try:
        row = wait_for(
            lambda: next(iter(ctx.deployment_rows()), None),
            timeout=120,
            what="the deployment table",
        )
        os.kill(row["pid"], signal.SIGKILL)
        thread.join(timeout=30)
    finally:
        ctx.cancel.set()
        thread.join(timeout=30)
    assert "server exited" in str(outcome.get("error")), outcome


@pytest.mark.django_db
def test_the_deploy_lab_has_a_launch_form_that_rejects_a_privileged_port(owner_client):
    page = owner_client.get(f"/labs/lab/{DEPLOY_LAB_ID}/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("model", "server", "hours", "host", "port"):
        assert f'name="{DEPLOY_LAB_ID}-{field}"' in html
    response = owner_client.post(
        f"/labs/lab/{DEPLOY_LAB_ID}/",
        {f"{DEPLOY_LAB_ID}-model": "tiny-random", f"{DEPLOY_LAB_ID}-port": "80"},
    )
    assert response.status_code == 400
    assert "from 1024 up" in response.content.decode()
    assert not Run.objects.filter(lab_id=DEPLOY_LAB_ID).exists()
