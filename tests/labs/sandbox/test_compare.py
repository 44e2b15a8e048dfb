"""The Agent Sandbox's runs compare on the labs compare page; its API stays at /api/hal/."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.labs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def _sandbox_run(owner, *, status=RunStatus.SUCCEEDED, lab_id="agent-sandbox", **result):
    values = {
        "env_id": "ChipTuning-v0",
        "algo": "ppo",
        "device": "sim:0",
        "device_model": "SimNPU-1",
        "policy_device": "cpu",
        "n_envs": 8,
        "steps_per_s": 812.5,
        "eval_mean_reward": 7.8,
        "energy_j": 41.0,
        "baselines": {"trained": 7.8, "random": -3.7, "default": -3.7},
        **result,
    }
    now = timezone.now()
    return Run.objects.create(
        owner=owner,
        lab_id=lab_id,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        status=status,
        worker="celery@box",
        device={"torch_device": "cpu", "device_key": "cpu:0"},
        result=values if status == RunStatus.SUCCEEDED else None,
        started_at=now - timedelta(seconds=30),
        finished_at=now,
    )


@pytest.mark.parametrize("url", ["/labs/hal/compare/", "/labs/sandbox/compare/"])
def test_the_old_comparison_pages_need_a_login_and_only_answer_get(client, owner_client, url):
    assert client.get(url).status_code == HTTPStatus.FOUND
    assert "/login" in client.get(url, follow=True).redirect_chain[-1][0]
    assert owner_client.post(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_old_comparison_redirects_to_the_labs_compare_page_with_the_owners_runs(
    owner, other_user, owner_client
):
    mine = _sandbox_run(owner)
    second = _sandbox_run(owner, steps_per_s=2048.0, device="cpu:0", env_id="CartPole-v1")
    _sandbox_run(owner, status=RunStatus.FAILED)
    _sandbox_run(owner, lab_id="system-benchmark", steps_per_s=999.0)
    _sandbox_run(other_user, steps_per_s=1.5)

    response = owner_client.get("/labs/hal/compare/", follow=True)

    final = urlsplit(response.redirect_chain[-1][0])
    assert final.path == reverse("labs:compare")
    query = parse_qs(final.query)
    assert query["lab"] == ["agent-sandbox"]
    assert sorted(query["run"]) == sorted([str(mine.pk), str(second.pk)])
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert f'href="/labs/runs/{mine.pk}/"' in body and f'href="/labs/runs/{second.pk}/"' in body
    # the figures of the typed result, side by side, and where each run ran
    assert "812.5" in body and "2048.0" in body and "baselines.trained" in body
    assert "celery@box" in body
    assert "1.5<" not in body and "999.0" not in body


def test_picked_runs_stay_picked_and_someone_elses_run_is_dropped(owner, other_user, owner_client):
    mine = _sandbox_run(owner)
    _sandbox_run(owner, steps_per_s=2048.0)
    theirs = _sandbox_run(other_user)

    response = owner_client.get(f"/labs/hal/compare/?run={mine.pk}&run={theirs.pk}")
    response = owner_client.get(response["Location"])

    assert parse_qs(urlsplit(response["Location"]).query)["run"] == [str(mine.pk)]


def test_the_comparison_api_lists_real_runs_and_narrows_to_the_picked_ones(
    owner, other_user, api, client
):
    mine = _sandbox_run(owner)
    picked = _sandbox_run(owner, eval_mean_reward=500.0, env_id="CartPole-v1")
    theirs = _sandbox_run(other_user)

    assert client.get("/api/hal/compare").status_code == HTTPStatus.UNAUTHORIZED
    rows = api.get("/api/hal/compare").json()
    assert [r["id"] for r in rows] == [picked.pk, mine.pk]
    row = rows[1]
    assert row["worker"] == "celery@box" and row["worker_device"] == "cpu:0"
    assert row["duration_s"] == pytest.approx(30, abs=1)
    assert row["trained"] == 7.8 and row["device"] == "sim:0"
    narrowed = api.get(f"/api/hal/compare?run={picked.pk},{theirs.pk}").json()
    assert [r["id"] for r in narrowed] == [picked.pk]
    assert narrowed[0]["eval_mean_reward"] == 500.0
    assert api.post("/api/hal/compare").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_reward_functions_are_listed_in_the_api_and_on_their_page(api, owner_client):
    names = [r["name"] for r in api.get("/api/hal/rewards").json()]
    assert {"none", "energy", "time"} <= set(names)
    body = owner_client.get(reverse("sandbox:rewards")).content.decode()
    assert all(f"<th>{name}</th>" in body for name in names)
