"""GET /healthz: status for everyone, details for staff or a token; worker liveness from heartbeats."""

import time
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from portal.core import health

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "healthz-test-token-0123456789"


def _wait_for_heartbeat(name_part: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name_part in name for name in health.live_workers()):
            return
        time.sleep(0.1)
    raise AssertionError(f"no heartbeat from a worker named like {name_part!r}")


@pytest.fixture
def beating_worker(celery_worker_process):  # noqa: ANN001, ANN201
    _wait_for_heartbeat("test-")
    return celery_worker_process


@pytest.fixture
def staff_client(staff) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(staff)
    return client


def test_anonymous_visitors_get_the_status_and_nothing_else(client, beating_worker):
    response = client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_staff_see_each_check_with_worker_names_and_versions(staff_client, beating_worker):
    response = staff_client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert "pgvector 0.8" in body["checks"]["database"]["detail"]
    assert body["checks"]["redis"]["detail"].startswith("redis 6.")
    assert "test-" in body["checks"]["worker"]["detail"]
    assert "queues cpu,feishu,gpu" in body["checks"]["worker"]["detail"]


def test_the_healthz_token_shows_details_and_a_wrong_one_does_not(client, settings, beating_worker):
    settings.HEALTHZ_TOKEN = TOKEN
    right = client.get(reverse("healthz"), headers={"Authorization": f"Bearer {TOKEN}"})
    wrong = client.get(reverse("healthz"), headers={"Authorization": "Bearer guess"})
    assert "test-" in right.json()["checks"]["worker"]["detail"]
    assert wrong.json() == {"status": "ok"}


def test_a_signed_in_non_staff_user_gets_the_status_only(owner_client, beating_worker):
    assert owner_client.get(reverse("healthz")).json() == {"status": "ok"}


def test_worker_liveness_comes_from_the_heartbeat_not_a_broker_round_trip(
    client, monkeypatch, beating_worker
):
    from portal.celery import app

    def no_round_trip(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("/healthz asked the workers synchronously")

    monkeypatch.setattr(app.control, "ping", no_round_trip)
    monkeypatch.setattr(app.control, "inspect", no_round_trip)
    assert client.get(reverse("healthz")).status_code == HTTPStatus.OK


def test_healthz_is_503_naming_redis_when_redis_is_down(staff_client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"

    response = staff_client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert "redis" in body["failing"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert Client().get(reverse("healthz")).json() == {"status": "unavailable"}


def test_healthz_is_503_naming_the_worker_when_no_heartbeat_is_fresh(
    staff_client, settings, beating_worker
):
    # Every beat is older than this window, as if the workers had died.
    settings.HEALTHZ_HEARTBEAT_TTL = 1e-6
    time.sleep(0.01)

    response = staff_client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["failing"] == ["worker"]
    assert "heartbeat" in response.json()["checks"]["worker"]["detail"]


def test_a_stopped_worker_removes_its_heartbeat(tmp_path, django_db_setup):
    import socket

    from tests.conftest import start_worker, stop_process

    name = f"hb-{time.monotonic_ns()}@{socket.gethostname()}"
    proc = start_worker(queues=f"hb-{time.monotonic_ns()}", name=name, log_path=tmp_path / "w.log")
    try:
        _wait_for_heartbeat(name)
    finally:
        stop_process(proc)
    assert name not in health.live_workers()
