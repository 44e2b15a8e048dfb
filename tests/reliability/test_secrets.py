"""Secrets stay out of error pages and logs."""

import logging
import sys
from http import HTTPStatus

import pytest
from django.test import Client, RequestFactory
from django.views.debug import technical_500_response

from portal.core.errors import redact_url_passwords

pytestmark = pytest.mark.django_db


def _debug_page(settings, request) -> str:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


def test_the_debug_error_page_hides_url_passwords_tokens_and_the_secret_key(settings):
    settings.DEBUG = True
    settings.DATABASE_URL = "postgresql://portal:db-hunter2@db.internal/portal"
    settings.CELERY_BROKER_URL = "redis://:redis-hunter2@cache.internal:6379/0"
    settings.CACHES = {"default": {"LOCATION": "redis://:cache-hunter2@cache.internal:6379/1"}}
    settings.FEISHU_APP_SECRET = "feishu-hunter2"
    request = RequestFactory().get("/x", HTTP_AUTHORIZATION="Bearer bearer-hunter2")

    html = _debug_page(settings, request)

    for secret in [
        "db-hunter2",
        "redis-hunter2",
        "cache-hunter2",
        "feishu-hunter2",
        "bearer-hunter2",
    ]:
        assert secret not in html, secret
    assert settings.SECRET_KEY not in html
    assert "db.internal" in html  # the rest of the setting stays readable


def test_a_production_500_page_shows_no_internals(settings, owner, monkeypatch):
    from portal.core import views

    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail with db-hunter2")

    monkeypatch.setattr(views, "panels", broken)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.get("/dashboard/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    body = response.content.decode()
    assert "db-hunter2" not in body and "Traceback" not in body and "RuntimeError" not in body


def test_failed_token_requests_do_not_log_the_password(client, owner, caplog):
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/api/auth/token",
            {"username": "owner", "password": "pw-hunter2"},
            content_type="application/json",
        )
        client.post(
            "/api/auth/token",
            {"username": "owner\x00", "password": "pw-hunter2"},
            content_type="application/json",
        )
    assert "pw-hunter2" not in caplog.text


def test_url_passwords_are_redacted_but_urls_without_one_are_left_alone():
    assert "s3cret" not in redact_url_passwords("postgresql://u:s3cret@h:5432/db?x=1")
    assert redact_url_passwords("postgresql://u:s3cret@h/db").startswith("postgresql://u:")
    assert redact_url_passwords("unix:///var/run/redis.sock") == "unix:///var/run/redis.sock"
    assert redact_url_passwords("https://open.feishu.cn") == "https://open.feishu.cn"
