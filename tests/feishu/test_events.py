"""POST /feishu/events: lark-oapi's checks plus freshness, dedupe and honest status codes."""

from __future__ import annotations

import json
import time
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from portal.feishu.models import EventStatus, FeishuEvent
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
    assert len(callbacks) == 1  # the Celery job is queued after commit


def test_a_retried_event_is_stored_once_and_queued_once(client, django_capture_on_commit_callbacks):
    event = message_event(text="hello", token=VERIFICATION_TOKEN, event_id="ev-retry")
    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(3):
            body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
            resp = post(client, body, headers)
            assert resp.status_code == HTTPStatus.OK
    assert resp.json()["msg"] == "duplicate"
    stored = FeishuEvent.objects.get(event_id="ev-retry")
    assert stored.deliveries == 3
    assert len(callbacks) == 1


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
