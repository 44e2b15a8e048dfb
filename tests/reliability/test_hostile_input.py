"""Bad input answers 4xx with a message, never 500 (found by the fuzz run, pinned here)."""

from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_token_username_is_a_400_not_a_database_error(client, owner):
    response = client.post(
        reverse("api:create_token"),
        {"username": "owner\x00", "password": "x"},
        content_type="application/json",
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "cannot be stored" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/runs", "/api/runs/", "/api/labs/runs/"])
def test_a_run_list_offset_beyond_bigint_is_a_422(api, path):
    response = api.get(path, {"offset": 124590364501228468043776})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_an_events_cursor_beyond_bigint_is_a_422(api, owner):
    from portal.labs.models import Run

    run = Run.objects.create(
        owner=owner,
        lab_id="system-benchmark",
        params={},
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )
    response = api.get(f"/api/runs/{run.pk}/events", {"after": 2**70})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_malformed_json_is_a_400_with_a_message(api):
    response = api.post(
        "/api/labs/system-benchmark/runs", "{not json", content_type="application/json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "detail" in response.json()


def test_a_body_over_the_upload_limit_is_refused_with_400(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"params": {}, "pad": "' + "x" * 4096 + '"}'
    response = api.post("/api/labs/system-benchmark/runs", body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_run_artifacts_are_not_served_as_public_media_even_in_debug(client, owner, settings):
    from importlib import reload

    from django.urls import clear_url_caches

    import portal.urls

    media = settings.DATA_LAYOUT.media / "labs" / "runs" / "999999"
    media.mkdir(parents=True, exist_ok=True)
    (media / "policy.zip").write_bytes(b"private")
    settings.DEBUG = True
    try:
        reload(portal.urls)
        clear_url_caches()
        response = client.get(f"/{settings.MEDIA_URL}labs/runs/999999/policy.zip")
        assert response.status_code == HTTPStatus.NOT_FOUND
    finally:
        settings.DEBUG = False
        reload(portal.urls)
        clear_url_caches()
        (media / "policy.zip").unlink()


@pytest.mark.parametrize("debug", [False, True])
def test_a_database_outage_during_api_authentication_is_a_503_in_debug_too(
    api, settings, monkeypatch, debug
):
    from django.db import OperationalError

    from portal.core import auth

    def down(raw):
        raise OperationalError("connection is bad: No such file or directory")

    settings.DEBUG = debug
    monkeypatch.setattr(auth, "user_for_token", down)
    response = api.get("/api/auth/me")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
