"""POST /feishu/events served beside Django (portal.feishu.asgi.FeishuEventsApp): deliveries
checked, stored and queued on the endpoint's own threads, on the real database, and the real
worker answering. The portal's own web processes serving it, a database outage included,
are tested in tests/reliability/test_real_outages.py."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import pytest

from portal.feishu import asgi as events_asgi
from portal.feishu.models import FeishuEvent
from tests.feishu.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN, wait_until
from tests.feishu.fakefeishu import message_event, signed_request

URL = "/feishu/events"


class Inner:
    """Stands in for Django behind the fast path: records what reached it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def call(
    app: Any,
    body: bytes,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = URL,
    host: str = "testserver",
    chunks: int = 1,
    declared: int | None = None,
) -> tuple[int, dict[str, str], bytes, int]:
    """One HTTP request through an ASGI app; (status, headers, body, body messages read)."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"host", host.encode()))
    if declared is not None:
        raw_headers.append((b"content-length", str(declared).encode()))
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > len(parts):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": parts[read - 1], "more_body": read < len(parts)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": raw_headers,
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], out_headers, b"".join(m.get("body", b"") for m in sent[1:]), read


@pytest.fixture
def app() -> tuple[events_asgi.FeishuEventsApp, Inner]:
    inner = Inner()
    return events_asgi.FeishuEventsApp(inner), inner


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("feishu_worker")
def test_a_delivery_is_acknowledged_beside_django_stored_once_and_answered_once(
    app, fake_feishu, settings
):
    settings.ALLOWED_HOSTS = ["testserver"]
    fast, inner = app
    event = message_event(
        text="/help", token=VERIFICATION_TOKEN, event_id="ev-fast", chat_id="oc_f"
    )
    status, headers, body, _ = call(fast, *signed_request(event, encrypt_key=ENCRYPT_KEY))
    assert status == HTTPStatus.OK, body
    assert headers["content-type"] == "application/json"
    assert inner.calls == []  # Django never saw it
    stored = FeishuEvent.objects.get(event_id="ev-fast")
    assert stored.payload["event"]["message"]["chat_id"] == "oc_f"

    # Feishu's retry: acknowledged as a duplicate, counted, not queued again
    status, _, body, _ = call(fast, *signed_request(event, encrypt_key=ENCRYPT_KEY))
    assert (status, json.loads(body)["msg"]) == (HTTPStatus.OK, "duplicate")
    assert FeishuEvent.objects.get(event_id="ev-fast").deliveries == 2

    # the worker answers it from the queue, once
    sent = fake_feishu.wait_for("/open-apis/im/v1/messages", 1)
    assert event["event"]["message"]["message_id"] in sent[0].path  # a reply to it
    wait_until(
        lambda: FeishuEvent.objects.get(event_id="ev-fast").status == "done", what="event done"
    )
    assert len(fake_feishu.messages()) == 1


@pytest.mark.django_db(transaction=True)
def test_bad_deliveries_get_the_views_answers_and_store_nothing(app, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    fast, inner = app
    event = message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-bad")
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)

    forged = {**headers, "X-Lark-Signature": "0" * 64}
    status, _, answer, _ = call(fast, body, forged)
    assert status == HTTPStatus.UNAUTHORIZED
    assert "signature" in json.loads(answer)["detail"]

    status, _, answer, _ = call(fast, b"not json", headers)
    assert (status, json.loads(answer)) == (400, {"detail": "the body is not JSON"})

    wrong_token = message_event(text="hi", token="wrong", event_id="ev-bad")
    status, _, _, _ = call(fast, *signed_request(wrong_token, encrypt_key=ENCRYPT_KEY))
    assert status == HTTPStatus.UNAUTHORIZED
    assert not FeishuEvent.objects.exists()
    assert inner.calls == []


@pytest.mark.django_db(transaction=True)
def test_an_oversized_body_is_413_whether_declared_or_not(app, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    fast, inner = app
    limit = events_asgi.conf.EVENT_MAX_BODY_BYTES
    big = b"x" * (limit + 1)
    # declared too large: refused before a byte of the body is read
    status, _, answer, read = call(fast, big, {}, declared=limit + 1)
    assert status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert str(limit) in json.loads(answer)["detail"]
    assert read == 0
    # declared small (a lie) or not at all: reading stops once the cap is passed
    for declared in (10, None):
        status, _, _, read = call(fast, big + b"y" * limit, {}, declared=declared, chunks=4)
        assert status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        assert read < 4
    assert not FeishuEvent.objects.exists()
    assert inner.calls == []


@pytest.mark.django_db(transaction=True)
def test_everything_else_is_left_to_django(app, settings):
    """GET (405), other paths, a Host the portal does not serve (400), and the endpoint while
    it is not configured (404) are Django's answers, not the fast path's."""
    settings.ALLOWED_HOSTS = ["testserver"]
    fast, inner = app
    body, headers = signed_request(
        message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ev-x"),
        encrypt_key=ENCRYPT_KEY,
    )
    assert call(fast, b"", {}, method="GET")[0] == 299
    assert call(fast, body, headers, path="/feishu/events/")[0] == 299
    assert call(fast, body, headers, host="evil.example")[0] == 299
    settings.FEISHU_ENCRYPT_KEY = ""
    assert call(fast, body, headers)[0] == 299
    assert inner.calls == [
        ("GET", URL),
        ("POST", "/feishu/events/"),
        ("POST", URL),
        ("POST", URL),
    ]
    assert not FeishuEvent.objects.exists()
