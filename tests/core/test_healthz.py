from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_is_200_when_database_redis_and_a_worker_answer(client, celery_worker_process):
    response = client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert "pgvector 0.8" in body["checks"]["database"]["detail"]
    assert body["checks"]["redis"]["detail"].startswith("redis 6.")
    assert "test-" in body["checks"]["worker"]["detail"]


def test_healthz_is_503_naming_redis_when_redis_is_down(client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"

    response = client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert "redis" in body["failing"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_naming_the_worker_when_none_answers(client, settings):
    settings.HEALTHZ_WORKER_TIMEOUT = 0.3
    from portal.celery import app

    # Ask a worker name that does not exist, so the real worker fixture cannot answer.
    original = app.control.ping
    app.control.ping = lambda timeout: original(destination=["nobody@nowhere"], timeout=timeout)
    try:
        response = client.get(reverse("healthz"))
    finally:
        app.control.ping = original

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["failing"] == ["worker"]
