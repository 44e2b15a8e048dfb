"""The Feishu event endpoint's fast path in the web process: `POST /feishu/events` served
beside Django, not through it.

Through Django each delivery went through twelve middlewares and Django's one thread per
process for synchronous code, which every page of that process also needs: under a burst,
deliveries waited for one another and for pages, while the process sat mostly idle waiting
on PostgreSQL and Redis (acks p50 186 ms with the web processes 38 % busy each). Here a
delivery is read by the event loop and then checked and stored
(`events.handle_event_request`, the same code the Django view runs) on a small thread pool
of its own, so deliveries overlap their database round trips instead of queueing.

Everything else about the URL stays with Django (`views.events`): a GET, any request while
the endpoint is not configured (404), the test client. The answers are the same: 200, 400,
401, 413, 500 when storing failed, and 503 with Retry-After when PostgreSQL is down.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core import signals
from django.db import InterfaceError, OperationalError
from django.http.request import split_domain_port, validate_host

from portal.core import gcpacer
from portal.core.middleware import (
    DATABASE_RETRY_AFTER,
    DATABASE_UNAVAILABLE,
    log_database_unavailable,
)
from portal.feishu import conf
from portal.feishu.events import NOT_STORED, TOO_LARGE, handle_event_request

log = logging.getLogger(__name__)

PATH = "/feishu/events"
# Enough to overlap database round trips (each waits on a commit), few enough not to crowd
# the pages' thread: 8 took a 20-in-flight burst's p99 from 92-99 ms (4 threads) to 80 ms.
THREADS = 8

Scope = dict[str, Any]


class FeishuEventsApp:
    """ASGI middleware: serves `POST /feishu/events` itself and passes everything else on."""

    def __init__(self, inner: Any, *, threads: int = THREADS) -> None:
        self.inner = inner
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not self._mine(scope):
            await self.inner(scope, receive, send)
            return
        with gcpacer.latency_critical():  # no full garbage collection starts meanwhile
            await self._acknowledge(scope, receive, send)

    async def _acknowledge(self, scope: Scope, receive: Any, send: Any) -> None:
        if _content_length(scope) > conf.EVENT_MAX_BODY_BYTES:
            await _respond(send, TOO_LARGE.status, TOO_LARGE.body)
            return
        body = await _read_body(receive, limit=conf.EVENT_MAX_BODY_BYTES)
        if body is None:
            await _respond(send, TOO_LARGE.status, TOO_LARGE.body)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        loop = asyncio.get_running_loop()
        status, payload, extra = await loop.run_in_executor(self.executor, _handle, body, headers)
        await _respond(send, status, payload, extra)

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.threads, thread_name_prefix="feishu-events"
            )
        return self._executor

    @staticmethod
    def _mine(scope: Scope) -> bool:
        """A POST to the configured endpoint, for a host the portal serves (Django answers
        the rest, a bad Host header included, with 400)."""
        return (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") == PATH
            and conf.events_enabled()
            and validate_host(_host(scope), _allowed_hosts())
        )


def _handle(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One delivery on a pool thread, framed like a Django request: the request_started and
    request_finished signals (which hand the thread's database connection back) around it."""
    signals.request_started.send(sender=FeishuEventsApp)
    try:
        result = handle_event_request(body=body, headers=headers, path=PATH)
        return int(result.status), result.body, {}
    except (OperationalError, InterfaceError) as exc:
        # As DatabaseUnavailableMiddleware answers a page: Feishu retries later.
        log_database_unavailable(PATH, exc)
        return 503, DATABASE_UNAVAILABLE, DATABASE_RETRY_AFTER
    except Exception:
        log.exception("a Feishu delivery failed")
        return int(NOT_STORED.status), NOT_STORED.body, {}
    finally:
        signals.request_finished.send(sender=FeishuEventsApp)


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            host, _port = split_domain_port(value.decode("latin-1"))
            return host
    return ""


def _allowed_hosts() -> list[str]:
    from django.conf import settings

    hosts = settings.ALLOWED_HOSTS
    return [".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG and not hosts else hosts


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive: Any, *, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` (the declared length may lie)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(
    send: Any, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
