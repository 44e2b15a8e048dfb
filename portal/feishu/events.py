"""The Feishu event endpoint's engine: lark-oapi's dispatcher plus what it lacks
(a freshness window against replays, de-duplication on `header.event_id`, and
HTTP statuses that tell Feishu whether a retry makes sense)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection, connections, transaction
from django.utils import timezone

from portal.feishu import conf
from portal.feishu.models import EventStatus, FeishuEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"

_AUTH_ERRORS = (
    "signature verification failed",
    "verification_token",
    "encrypt_key not found",
    "credentials",
)


@dataclass
class Delivery:
    """What the registered callbacks did with the request being dispatched."""

    event_ids: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failure: BaseException | None = None


_delivery: contextvars.ContextVar[Delivery] = contextvars.ContextVar("feishu_delivery")


@dataclass(frozen=True)
class EventResult:
    status: int
    body: dict[str, Any]


# Answered before a body is parsed (the view and the web process's fast path).
TOO_LARGE = EventResult(
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    {"detail": f"the body is larger than {conf.EVENT_MAX_BODY_BYTES} bytes"},
)
# Storing failed for another reason than the database being down: Feishu will retry.
NOT_STORED = EventResult(HTTPStatus.INTERNAL_SERVER_ERROR, {"detail": "could not store the event"})


_UPSERT_EVENT = f"""
    INSERT INTO {FeishuEvent._meta.db_table}
        (event_id, event_type, payload, status, deliveries, error, received_at)
    VALUES (%s, %s, %s::jsonb, %s, 1, '', %s)
    ON CONFLICT (event_id) DO UPDATE SET deliveries = {FeishuEvent._meta.db_table}.deliveries + 1
    RETURNING id, (xmax = 0) AS inserted
"""


def record_event(payload: dict[str, Any]) -> tuple[int, str, bool]:
    """Store an event once per `event_id`; returns (pk, event_id, is_new).

    One statement (insert, or count another delivery) keeps the acknowledgement fast and
    race-free when Feishu's retries arrive concurrently. It is all the acknowledgement does:
    the insert's trigger notifies the relay (`portal.feishu.relay`), which queues the job
    that answers the event, in a Celery worker, once the insert commits.
    """
    header = payload.get("header") or {}
    event_id = str(header.get("event_id") or "")
    if not event_id:
        raise ValueError("event without header.event_id")
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_EVENT,
            [
                event_id,
                str(header.get("event_type") or ""),
                json.dumps(payload, ensure_ascii=False),
                EventStatus.RECEIVED,
                timezone.now(),
            ],
        )
        pk, created = cursor.fetchone()
    return pk, event_id, created


_sync_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="feishu-ws")


def _sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM work from lark's long-connection client, which calls handlers inside
    its asyncio loop (where Django refuses synchronous queries)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    return _sync_pool.submit(_closing, fn, *args, **kwargs).result()


def _closing(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    finally:
        # Pool threads outlive the request; do not leave their connections open.
        connections.close_all()


def _atomic(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with transaction.atomic():
        return fn(*args, **kwargs)


def _on_message(data: Any) -> None:
    import lark_oapi as lark

    # No Delivery on the long-connection path: nothing waits for an HTTP status there.
    delivery = _delivery.get(None) or Delivery()
    try:
        payload = json.loads(lark.JSON.marshal(data))
        _pk, event_id, created = _sync(record_event, payload)
        (delivery.event_ids if created else delivery.duplicates).append(event_id)
    except BaseException as exc:
        delivery.failure = exc
        raise


def _on_card_action(data: Any) -> Any:
    from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

    from portal.feishu.bot import handle_card_action
    from portal.feishu.schemas import CardAction

    event = data.event
    value = (event.action.value if event and event.action else None) or {}
    try:
        action = CardAction.model_validate(value)
    except ValueError:
        return P2CardActionTriggerResponse({"toast": {"type": "error", "content": "bad action"}})
    operator = event.operator.open_id if event.operator else ""
    reply = _sync(_atomic, handle_card_action, action, operator_open_id=operator or "")
    response: dict[str, Any] = {"toast": {"type": "info", "content": reply.toast}}
    if reply.card is not None:
        response["card"] = {"type": "raw", "data": reply.card}
    return P2CardActionTriggerResponse(response)


def _credentials() -> Any:
    from lark_oapi.event.dispatcher_handler import WebhookCredentials

    return WebhookCredentials(conf.encrypt_key(), conf.verification_token())


@lru_cache(maxsize=1)
def start_warm_up() -> threading.Thread | None:
    """Import lark-oapi (seconds of CPU, ~100 MB) when a web process starts, in the background,
    rather than inside the first Feishu delivery it receives: Feishu retries an event whose
    acknowledgement takes over 3 s. Only where the event endpoint is configured; returns the
    thread doing it, if any."""
    if not (conf.encrypt_key() or conf.verification_token()):
        return None
    thread = threading.Thread(target=dispatcher, name="feishu-warm-up", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=1)
def dispatcher() -> Any:
    """lark-oapi's dispatcher, built once per process: its builder sets the level of lark's
    logger, which empties the cache of every logger in the process, on each build. The
    credentials are still read per request (settings may change)."""
    import lark_oapi as lark

    return (
        lark.EventDispatcherHandler.builder("", "", lark.LogLevel.CRITICAL)
        .webhook_credentials_provider(_credentials)
        .register_p2_im_message_receive_v1(_on_message)
        .register_p2_card_action_trigger(_on_card_action)
        .build()
    )


def _is_url_verification(parsed: dict[str, Any]) -> bool:
    """Whether an encrypted body is Feishu's URL check, the one request it may send
    unsigned (lark-oapi checks only its token; it stores nothing and queues nothing)."""
    try:
        plaintext = dispatcher()._decrypt(json.dumps(parsed).encode(), conf.encrypt_key())
        return json.loads(plaintext).get("type") == "url_verification"
    except Exception:  # noqa: BLE001 - anything undecryptable is not a URL check
        return False


def handle_event_request(
    *, body: bytes, headers: dict[str, str], path: str = "/feishu/events"
) -> EventResult:
    """Check, decrypt and dispatch one HTTP delivery from Feishu.

    200 for handled, duplicate and unknown-type events (so Feishu stops retrying);
    400 for a malformed body; 401 for a bad signature or token or a stale
    timestamp; 500 only when storing the event failed (Feishu will retry).
    """
    import lark_oapi as lark

    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return EventResult(HTTPStatus.BAD_REQUEST, {"detail": "the body is not JSON"})
    if not isinstance(parsed, dict):
        return EventResult(HTTPStatus.BAD_REQUEST, {"detail": "the body is not a JSON object"})

    # Proxies and Django change header case; lark wants its exact spelling.
    headers = {k.lower(): v for k, v in headers.items()}
    if "encrypt" not in parsed:
        return EventResult(HTTPStatus.BAD_REQUEST, {"detail": "expected an encrypted body"})
    timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    if timestamp:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return EventResult(HTTPStatus.BAD_REQUEST, {"detail": "bad request timestamp"})
        if age > conf.event_max_age_s():
            return EventResult(
                HTTPStatus.UNAUTHORIZED, {"detail": "stale request timestamp (replay?)"}
            )
    elif not _is_url_verification(parsed):
        # The signature covers the timestamp; without one there is no freshness check.
        return EventResult(
            HTTPStatus.UNAUTHORIZED, {"detail": f"missing {TIMESTAMP_HEADER} header"}
        )

    raw = lark.RawRequest()
    raw.uri = path
    raw.body = body
    # lark looks header names up case-sensitively; missing ones become "" so a
    # missing signature fails verification instead of crashing.
    raw.headers = {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: headers.get(NONCE_HEADER.lower(), ""),
        SIGNATURE_HEADER: headers.get(SIGNATURE_HEADER.lower(), ""),
    }
    delivery = Delivery()
    token = _delivery.set(delivery)
    try:
        # No transaction around the dispatch: a message is stored by one statement (which
        # commits or fails alone); a card action opens its own. Two round trips to
        # PostgreSQL fewer per acknowledgement.
        resp = dispatcher().do(raw)
    finally:
        _delivery.reset(token)

    try:
        content = json.loads(resp.content or b"{}")
    except ValueError:
        content = {}
    if resp.status_code == 200:
        if delivery.duplicates:
            content = {"msg": "duplicate", "event_id": delivery.duplicates[0]}
        return EventResult(HTTPStatus.OK, content)
    message = str(content.get("msg", "")) if isinstance(content, dict) else ""
    if delivery.failure is not None:
        if isinstance(delivery.failure, ValueError):
            return EventResult(HTTPStatus.BAD_REQUEST, {"detail": str(delivery.failure)})
        if isinstance(delivery.failure, OperationalError | InterfaceError):
            # PostgreSQL is down or went away: the caller answers 503 with Retry-After, as
            # DatabaseUnavailableMiddleware does for any page.
            raise delivery.failure
        log.error("storing a Feishu event failed: %r", delivery.failure)
        return NOT_STORED
    if any(marker in message for marker in _AUTH_ERRORS):
        return EventResult(HTTPStatus.UNAUTHORIZED, {"detail": message})
    if "processor not found" in message:
        # An event type we did not subscribe to: acknowledge so Feishu does not retry.
        return EventResult(HTTPStatus.OK, {"msg": "ignored"})
    return EventResult(HTTPStatus.BAD_REQUEST, {"detail": message or "malformed event"})
