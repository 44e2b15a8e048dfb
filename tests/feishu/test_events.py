"""POST /feishu/events: lark-oapi's checks plus freshness, dedupe and honest status codes."""

from __future__ import annotations

import json
import time
from http import HTTPStatus
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from portal.feishu.models import EventStatus, FeishuEvent
from portal.feishu.relay import queue_claimed
from tests.conftest import tasks_on_commit
from tests.feishu.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN
from tests.feishu.fakefeishu import message_event, signed_request

pytestmark = pytest.mark.django_db

URL = "/feishu/events"


def post(client: Client, body: bytes, headers: dict[str, str]):  # noqa: ANN201
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_the_event_url_is_mounted_under_feishu():
    assert reverse("feishu:events") == URL


def test_url_verification_answers_the_challenge_of_an_encrypted_request(client):
    payload = {"challenge": "abc-123", "token": VERIFICATION_TOKEN, "type": "url_verification"}
    body, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY, sign=False)
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.OK
    assert resp.json() == {"challenge": "abc-123"}


def test_url_verification_with_a_wrong_token_is_401(client):
    payload = {"challenge": "abc", "token": "wrong", "type": "url_verification"}
    body, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY, sign=False)
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.UNAUTHORIZED
    assert "verification_token" in resp.json()["detail"]


def test_a_signed_message_event_is_stored_and_acknowledged(
    client, django_capture_on_commit_callbacks
):
    event = message_event(text="hello", token=VERIFICATION_TOKEN, event_id="ev-1")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    with django_capture_on_commit_callbacks() as callbacks:
        resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.OK
    stored = FeishuEvent.objects.get(event_id="ev-1")
    assert stored.event_type == "im.message.receive_v1"
    assert stored.status == EventStatus.RECEIVED
    assert stored.payload["event"]["message"]["content"] == json.dumps({"text": "hello"})
    # The acknowledgement queues nothing itself: the relay queues the stored event.
    assert stored.queued_at is None
    assert tasks_on_commit(callbacks) == []


def test_a_retried_event_is_stored_once(client):
    event = message_event(text="hello", token=VERIFICATION_TOKEN, event_id="ev-retry")
    for _ in range(3):
        body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
        resp = post(client, body, headers)
        assert resp.status_code == HTTPStatus.OK
    assert resp.json()["msg"] == "duplicate"
    stored = FeishuEvent.objects.get(event_id="ev-retry")
    assert stored.deliveries == 3


def test_header_names_in_any_case_are_accepted(client):
    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-case")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert post(client, body, lowered).status_code == HTTPStatus.OK


def test_a_bad_signature_is_401_and_nothing_is_stored(client):
    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-badsig")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    headers["X-Lark-Signature"] = "0" * 64
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.UNAUTHORIZED
    assert "signature" in resp.json()["detail"]
    assert not FeishuEvent.objects.exists()


def test_a_missing_signature_is_401(client):
    event = message_event(text="hi", token=VERIFICATION_TOKEN)
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY, sign=False)
    assert post(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED
    assert not FeishuEvent.objects.exists()


def test_a_wrong_verification_token_inside_the_event_is_401(client):
    event = message_event(text="hi", token="not-the-token")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    assert post(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED


def test_a_replayed_request_outside_the_freshness_window_is_401(client, settings):
    settings.FEISHU_EVENT_MAX_AGE = 300
    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-old")
    body, headers = signed_request(
        event, encrypt_key=ENCRYPT_KEY, timestamp=int(time.time()) - 3600
    )
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.UNAUTHORIZED
    assert "stale" in resp.json()["detail"]
    assert not FeishuEvent.objects.exists()


def test_a_body_that_is_not_json_is_400(client):
    resp = post(client, b"{not json", {})
    assert resp.status_code == HTTPStatus.BAD_REQUEST


def test_an_undecryptable_body_is_400(client):
    body = json.dumps({"encrypt": "bm90IHJlYWxseSBlbmNyeXB0ZWQ="}).encode()
    _b, headers = signed_request({}, encrypt_key=ENCRYPT_KEY)
    resp = post(client, body, headers)
    assert resp.status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED)
    assert resp.status_code != HTTPStatus.INTERNAL_SERVER_ERROR


def test_a_plaintext_body_is_refused_when_encryption_is_configured(client):
    event = message_event(text="hi", token=VERIFICATION_TOKEN)
    resp = post(client, json.dumps(event).encode(), {})
    assert resp.status_code == HTTPStatus.BAD_REQUEST


def test_an_event_type_we_do_not_handle_is_acknowledged_so_feishu_stops_retrying(client):
    event = message_event(text="x", token=VERIFICATION_TOKEN)
    event["header"]["event_type"] = "contact.user.created_v3"
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.OK
    assert not FeishuEvent.objects.exists()


def test_get_is_405(client):
    assert client.get(URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- Closed unless configured (issue #14, item 1) ------------------------------------------


def _unsigned_message_event() -> bytes:
    return json.dumps(message_event(text="/ask hi", token="", event_id="ev-forged")).encode()


@pytest.mark.parametrize(
    "unset",
    [
        ("FEISHU_APP_ID",),
        ("FEISHU_ENCRYPT_KEY",),
        ("FEISHU_VERIFICATION_TOKEN",),
        ("FEISHU_APP_ID", "FEISHU_ENCRYPT_KEY", "FEISHU_VERIFICATION_TOKEN"),
    ],
)
def test_the_event_url_is_404_unless_the_bot_and_both_keys_are_configured(
    client, settings, monkeypatch, unset, django_capture_on_commit_callbacks
):
    for name in unset:
        setattr(settings, name, "")
        monkeypatch.delenv(name, raising=False)
    with django_capture_on_commit_callbacks() as callbacks:
        forged = post(client, _unsigned_message_event(), {})
        event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-signed")
        body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
        signed = post(client, body, headers)
    assert forged.status_code == HTTPStatus.NOT_FOUND
    assert signed.status_code == HTTPStatus.NOT_FOUND
    assert forged["Content-Type"] == "application/json"
    assert not FeishuEvent.objects.exists()
    assert tasks_on_commit(callbacks) == []


def test_a_signed_event_without_the_timestamp_header_is_401(client):
    """The signature is computed over an empty timestamp, so only the header's absence
    is wrong: without it there would be no freshness check and a capture replays forever."""
    import hashlib

    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-no-ts")
    body, _headers = signed_request(event, encrypt_key=ENCRYPT_KEY, sign=False)
    nonce = "n" * 16
    signature = hashlib.sha256((nonce + ENCRYPT_KEY).encode() + body).hexdigest()
    resp = post(client, body, {"X-Lark-Request-Nonce": nonce, "X-Lark-Signature": signature})
    assert resp.status_code == HTTPStatus.UNAUTHORIZED
    assert "X-Lark-Request-Timestamp" in resp.json()["detail"]
    assert not FeishuEvent.objects.exists()


def test_a_body_over_64_kib_is_413_before_anything_parses_it(client, monkeypatch):
    def no_parse(**kwargs):  # noqa: ANN003, ANN202
        raise AssertionError("an oversized body reached the event handler")

    monkeypatch.setattr("portal.feishu.views.handle_event_request", no_parse)
    event = message_event(text="x" * (70 * 1024), token=VERIFICATION_TOKEN)
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    assert len(body) > 64 * 1024
    resp = post(client, body, headers)
    assert resp.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert not FeishuEvent.objects.exists()


def test_a_body_just_under_64_kib_is_handled(client):
    event = message_event(text="x" * (40 * 1024), token=VERIFICATION_TOKEN, event_id="ev-big")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    assert len(body) <= 64 * 1024
    assert post(client, body, headers).status_code == HTTPStatus.OK


@pytest.mark.parametrize("missing", ["FEISHU_ENCRYPT_KEY", "FEISHU_VERIFICATION_TOKEN"])
def test_check_deploy_has_an_error_when_the_bot_is_half_configured(settings, monkeypatch, missing):
    from django.core.checks import ERROR, run_checks

    setattr(settings, missing, "")
    monkeypatch.delenv(missing, raising=False)
    errors = [m for m in run_checks(include_deployment_checks=True) if m.id == "feishu.E001"]
    assert len(errors) == 1
    assert errors[0].level == ERROR
    assert missing in errors[0].msg
    assert not [m for m in run_checks() if m.id == "feishu.E001"]  # only under --deploy


def test_check_deploy_has_no_feishu_error_when_fully_configured():
    from django.core.checks import run_checks

    assert not [m for m in run_checks(include_deployment_checks=True) if m.id.startswith("feishu")]


def test_event_jobs_go_to_the_feishu_queue_that_the_up_worker_serves(client, settings, monkeypatch):
    from celery.app.task import Task

    from portal.core.management.commands.up import worker_commands

    settings.FEISHU_QUEUE = "feishu"  # the default (checked below), not the suite's own queue
    up_queues = [cmd[cmd.index("-Q") + 1] for _name, cmd in worker_commands(Path("/tmp/s"))]
    del settings.FEISHU_QUEUE
    monkeypatch.delenv("FEISHU_QUEUE", raising=False)
    queued: list[str] = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **kw: queued.append(kw.get("queue")))
    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-queue")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    assert post(client, body, headers).status_code == HTTPStatus.OK
    with connection.cursor() as cursor:  # what the relay does with it
        assert queue_claimed(cursor, None) == [FeishuEvent.objects.get(event_id="ev-queue").pk]
    assert queued == ["feishu"]
    import os

    import portal.settings as project_settings

    assert "PORTAL_WORKER_QUEUES" not in os.environ  # so this is the default
    assert any("feishu" in q.split(",") for q in up_queues), up_queues
    assert project_settings.FEISHU_QUEUE == "feishu"
