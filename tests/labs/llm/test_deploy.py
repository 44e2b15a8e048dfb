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

from portal.core.processes import live_in_group
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
def test_active_deployment_is_the_askers_newest_running_deploy_run_that_is_serving(owner):
    assert active_deployment(user=owner) is None and active_deployment_url(user=owner) is None
    make_run(owner, rows=None)  # still starting: no URL yet
    assert active_deployment(user=owner) is None
    make_run(owner, status=RunStatus.CANCELLED, rows=[serving_row("http://127.0.0.1:1/v1")])
    make_run(owner, heartbeat_age_s=3600, rows=[serving_row("http://127.0.0.1:2/v1")])  # lost
    make_run(owner, rows=[serving_row("http://127.0.0.1:3/v1", state="stopping")])
    assert active_deployment(user=owner) is None
    make_run(owner, rows=[serving_row("http://127.0.0.1:4/v1")])
    newer = make_run(owner, rows=[serving_row("http://127.0.0.1:5/v1")])
    deployment = active_deployment(user=owner)
    assert (deployment.run_id, deployment.base_url, deployment.model) == (
        newer.pk,
        "http://127.0.0.1:5/v1",
        "tiny-random",
    )
    # nothing listens on those ports: a checked lookup finds none
    assert active_deployment(user=owner, check=True, timeout_s=0.5) is None


@pytest.mark.django_db
def test_another_users_deployment_never_answers_me_unless_staff_shared_it(owner, other_user):
    theirs = make_run(other_user, rows=[serving_row("http://127.0.0.1:6/v1")])
    assert active_deployment(user=owner) is None
    assert active_deployment(user=None) is None  # an unlinked Feishu sender
    assert active_deployment(user=other_user).run_id == theirs.pk

    theirs.shared = True
    theirs.save(update_fields=["shared"])
    assert active_deployment(user=owner).run_id == theirs.pk
    assert active_deployment(user=None).run_id == theirs.pk
    # my own deployment comes before a shared one, even an older one
    mine = make_run(owner, rows=[serving_row("http://127.0.0.1:7/v1")])
    Run.objects.filter(pk=mine.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert active_deployment(user=owner).run_id == mine.pk


@pytest.mark.django_db
def test_the_answerer_asks_only_the_askers_deployment(owner, other_user, settings, monkeypatch):
    from portal.knowledge import llm
    from portal.labs.llm import deploy

    settings.KB_LLM_BACKEND = "auto"
    settings.KB_LLM_URL = ""
    # nothing listens on the port: pretend it answers, and keep the local model unloaded
    monkeypatch.setattr(deploy, "_answers", lambda deployment, timeout_s: True)
    monkeypatch.setattr(llm, "_smollm2", lambda: "local fallback")
    make_run(other_user, rows=[serving_row("http://127.0.0.1:8/v1")])
    assert llm.get_llm(user=owner) == "local fallback"
    assert llm.get_llm(user=None) == "local fallback"
    assert llm.get_llm(user=other_user).name.startswith("openai")


@pytest.mark.django_db
def test_only_staff_may_bind_a_deployment_to_the_network(owner_client, staff, owner):
    from django.test import Client

    url = f"/api/labs/{DEPLOY_LAB_ID}/runs"
    body = {"params": {"model": "tiny-random", "host": "0.0.0.0"}}
    response = owner_client.post(url, body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][-1] == "host"
    assert "staff" in response.json()["detail"][0]["msg"]
    assert not Run.objects.filter(owner=owner).exists()

    staff_client = Client()
    staff_client.force_login(staff)
    response = staff_client.post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.params["host"] == "0.0.0.0"
    # the worker re-validates the stored parameters without a user: still valid
    assert get_lab(DEPLOY_LAB_ID).validate(run.params).host == "0.0.0.0"


@pytest.mark.django_db
def test_only_staff_may_share_a_deployment(owner, owner_client, other_client, staff):
    from django.test import Client

    run = make_run(owner, rows=[serving_row("http://127.0.0.1:9/v1")])
    url = f"/api/runs/{run.pk}/share"
    assert (
        owner_client.post(url, {"shared": True}, content_type="application/json").status_code == 403
    )
    assert (
        other_client.post(url, {"shared": True}, content_type="application/json").status_code == 404
    )
    assert Client().post(url, {"shared": True}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert owner_client.get(url).status_code == 405
    run.refresh_from_db()
    assert run.shared is False

    staff_client = Client()
    staff_client.force_login(staff)
    response = staff_client.post(url, {"shared": True}, content_type="application/json")
    assert response.status_code == 200 and response.json()["shared"] is True
    run.refresh_from_db()
    assert run.shared is True
    response = staff_client.post(url, {"shared": False}, content_type="application/json")
    run.refresh_from_db()
    assert run.shared is False


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
        assert active_deployment_url(user=owner, check=True) == row["url"]
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
