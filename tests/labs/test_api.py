from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from portal.labs.models import Run, RunEvent, RunStatus
from portal.labs.registry import get_lab
from portal.labs.services import NewEvent, append_events, launch_run
from tests.labs.conftest import SMALL_BENCHMARK

pytestmark = pytest.mark.django_db


def _launch(api: Client, lab_id: str = "system-benchmark", params: dict | None = None, **extra):
    return api.post(
        f"/api/labs/{lab_id}/runs",
        {"params": params if params is not None else SMALL_BENCHMARK, **extra},
        content_type="application/json",
    )


def test_the_lab_list_gives_each_lab_its_schema_and_valid_defaults(api):
    response = api.get("/api/labs")

    assert response.status_code == HTTPStatus.OK
    labs = {lab["id"]: lab for lab in response.json()}
    bench = labs["system-benchmark"]
    assert bench["week"] == 5
    assert bench["device"] == "any"
    assert bench["params_schema"]["properties"]["repeats"]["maximum"] == 100
    assert bench["defaults"]["dtypes"] == ["float32", "bfloat16"]
    for lab in labs.values():
        get_lab(lab["id"]).validate(lab["defaults"])


def test_the_lab_list_needs_a_signed_in_user():
    assert Client().get("/api/labs").status_code == HTTPStatus.UNAUTHORIZED


def test_launching_creates_a_queued_run_with_its_first_event(api, owner):
    response = _launch(api)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["status"] == "queued"
    run = Run.objects.get(pk=body["id"])
    assert run.owner == owner
    assert run.params["matmul_sizes"] == [64, 128]
    assert run.queue == "cpu"
    assert run.time_limit_s == get_lab("system-benchmark").time_limit_s
    event = RunEvent.objects.get(run=run)
    assert (event.seq, event.kind, event.data["status"]) == (1, "status", "queued")


def test_launching_with_bad_parameters_answers_422_with_field_errors(api):
    response = _launch(api, params={"repeats": 0, "dtypes": ["int4"]})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    fields = {tuple(err["loc"][:1]) for err in response.json()["detail"]}
    assert fields == {("repeats",), ("dtypes",)}
    assert not Run.objects.exists()


def test_launching_an_unknown_lab_answers_404(api):
    assert _launch(api, lab_id="no-such-lab").status_code == HTTPStatus.NOT_FOUND


def test_launching_past_the_active_run_limit_answers_429(api, settings):
    settings.LABS_MAX_ACTIVE_RUNS_PER_USER = 2
    assert _launch(api).status_code == HTTPStatus.CREATED
    assert _launch(api).status_code == HTTPStatus.CREATED

    response = _launch(api)

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "limit 2" in response.json()["detail"]
    Run.objects.update(status=RunStatus.SUCCEEDED)
    assert _launch(api).status_code == HTTPStatus.CREATED


def test_a_run_is_served_at_api_runs_and_the_old_api_labs_runs_spelling_still_answers(api):
    run_id = _launch(api).json()["id"]

    for url in (f"/api/runs/{run_id}", f"/api/labs/runs/{run_id}", f"/api/runs/{run_id}/"):
        body = api.get(url).json()
        assert body["id"] == run_id
        assert body["status"] == "queued"
        assert body["params"]["repeats"] == 2
        assert body["result"] is None
        assert body["error"] == ""


def test_a_run_is_hidden_from_anonymous_and_other_users(api, other_client):
    run_id = _launch(api).json()["id"]

    assert Client().get(f"/api/runs/{run_id}").status_code == HTTPStatus.UNAUTHORIZED
    assert other_client.get(f"/api/runs/{run_id}").status_code == HTTPStatus.NOT_FOUND
    assert other_client.get("/api/runs").json() == []


def test_staff_see_every_run(api, staff):
    run_id = _launch(api).json()["id"]
    client = Client()
    client.force_login(staff)

    assert client.get(f"/api/runs/{run_id}").status_code == HTTPStatus.OK


def test_events_after_a_sequence_number_come_in_order(api):
    run_id = _launch(api).json()["id"]
    append_events(
        run_id,
        [
            NewEvent("log", {"text": f"line {i}"}, Run.objects.get(pk=run_id).created_at)
            for i in range(5)
        ],
    )

    body = api.get(f"/api/runs/{run_id}/events?after=2").json()

    assert body["last_seq"] == 6
    assert [e["seq"] for e in body["events"]] == [3, 4, 5, 6]
    assert body["events"][0]["kind"] == "log"
    assert body["events"][0]["data"] == {"text": "line 1"}
    assert "ts" in body["events"][0]


def test_cancelling_a_queued_run_ends_it_at_once(api):
    run_id = _launch(api).json()["id"]

    response = api.post(f"/api/runs/{run_id}/cancel")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "cancelled"
    assert Run.objects.get(pk=run_id).status == RunStatus.CANCELLED
    assert api.post(f"/api/runs/{run_id}/cancel").status_code == HTTPStatus.CONFLICT


def test_cancel_needs_post_and_the_owner(api, other_client):
    run_id = _launch(api).json()["id"]

    assert api.get(f"/api/runs/{run_id}/cancel").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert other_client.post(f"/api/runs/{run_id}/cancel").status_code == HTTPStatus.NOT_FOUND
    assert Client().post(f"/api/runs/{run_id}/cancel").status_code == HTTPStatus.UNAUTHORIZED
    assert Run.objects.get(pk=run_id).status == RunStatus.QUEUED


def test_the_run_list_filters_by_lab_and_status(api, owner):
    bench = _launch(api).json()["id"]
    check = _launch(api, "pipeline-check", {}).json()["id"]
    Run.objects.filter(pk=check).update(status=RunStatus.FAILED)

    assert [r["id"] for r in api.get("/api/runs?lab=system-benchmark").json()] == [bench]
    assert [r["id"] for r in api.get("/api/runs?status=failed").json()] == [check]
    assert api.get("/api/runs?status=bogus").status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    # The slashed spelling answers the same list, not a redirect.
    slashed = api.get("/api/runs/?lab=pipeline-check")
    assert slashed.status_code == HTTPStatus.OK
    assert [r["id"] for r in slashed.json()] == [check]


def test_a_run_on_a_queue_no_worker_serves_is_waiting_for_a_worker(api, owner, settings):
    settings.PORTAL_QUEUE_ROUTES = {"cpu": "cpu", "gpu": "gpu-nobody", "any": "gpu-nobody"}
    run = launch_run(user=owner, lab=get_lab("pipeline-check"), params={})

    assert run.queue == "gpu-nobody"
    assert api.get(f"/api/runs/{run.pk}").json()["waiting_for_worker"] is True


@pytest.mark.django_db
def test_an_unknown_parameter_name_is_a_422_and_creates_no_run(api):
    response = api.post(
        "/api/labs/system-benchmark/runs",
        {"params": {"repeats": 3, "repaets": 5}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert any(error["loc"][-1] == "repaets" for error in response.json()["detail"])
    assert not Run.objects.exists()
