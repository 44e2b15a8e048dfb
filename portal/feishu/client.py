"""Talking to Feishu: the app bot through lark-oapi's client, group custom-bot
webhooks through a signed POST, and the interactive cards both send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from portal.feishu import conf


class FeishuError(RuntimeError):
    """A send that Feishu refused or that never reached it (retryable by the caller)."""


_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def lark_client() -> Any:
    """lark-oapi's client for the configured app (built once per app and domain).

    lark caches tenant tokens process-wide by app_id, which is what we want here.
    """
    if not conf.bot_enabled():
        raise FeishuError("the Feishu app is not configured (FEISHU_APP_ID)")
    key = (conf.app_id(), conf.app_secret(), conf.domain())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import lark_oapi as lark

            client = (
                lark.Client.builder()
                .app_id(key[0])
                .app_secret(key[1])
                .domain(key[2])
                .timeout(10)
                .log_level(lark.LogLevel.WARNING)
                .build()
            )
            _clients[key] = client
    return client


def _content(msg_type: str, text: str | None, card: dict[str, Any] | None) -> str:
    if msg_type == "interactive":
        return json.dumps(card, ensure_ascii=False)
    return json.dumps({"text": text or ""}, ensure_ascii=False)


def _check(resp: Any, what: str) -> str:
    # lark-oapi does not raise on API errors: the response says whether it worked.
    if not resp.success():
        raise FeishuError(f"{what} failed: code={resp.code} msg={resp.msg}")
    data = getattr(resp, "data", None)
    return getattr(data, "message_id", "") or ""


# Feishu sends at most one message per `uuid` within an hour: a retried send with the same
# uuid (after a timeout, or a worker that lost its database after sending) is not a second
# message. At most 50 characters.
UUID_MAX = 50


def idempotency_key(*parts: object) -> str:
    """A `uuid` for a send that may be retried: the same parts give the same key."""
    key = "-".join(str(p) for p in parts)
    if len(key) <= UUID_MAX:
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:UUID_MAX]


def send_message(
    *,
    receive_id: str,
    receive_id_type: str,
    text: str | None = None,
    card: dict[str, Any] | None = None,
    uuid: str = "",
) -> str:
    """Send a text or card message from the app bot; returns Feishu's message_id."""
    from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

    msg_type = "interactive" if card is not None else "text"
    body = (
        CreateMessageRequestBody.builder()
        .receive_id(receive_id)
        .msg_type(msg_type)
        .content(_content(msg_type, text, card))
    )
    if uuid:
        body = body.uuid(uuid)
    request = (
        CreateMessageRequest.builder()
        .receive_id_type(receive_id_type)
        .request_body(body.build())
        .build()
    )
    try:
        resp = lark_client().im.v1.message.create(request)
    except Exception as exc:  # network errors do raise
        raise FeishuError(f"send failed: {exc}") from exc
    return _check(resp, "send")


def reply_message(
    *,
    message_id: str,
    text: str | None = None,
    card: dict[str, Any] | None = None,
    in_thread: bool = False,
    uuid: str = "",
) -> str:
    from lark_oapi.api.im.v1 import ReplyMessageRequest, ReplyMessageRequestBody

    msg_type = "interactive" if card is not None else "text"
    body = (
        ReplyMessageRequestBody.builder()
        .msg_type(msg_type)
        .content(_content(msg_type, text, card))
        .reply_in_thread(in_thread)
    )
    if uuid:
        body = body.uuid(uuid)
    request = (
        ReplyMessageRequest.builder().message_id(message_id).request_body(body.build()).build()
    )
    try:
        resp = lark_client().im.v1.message.reply(request)
    except Exception as exc:
        raise FeishuError(f"reply failed: {exc}") from exc
    return _check(resp, "reply")


def webhook_sign(timestamp: int, secret: str) -> str:
    """Feishu custom-bot signature: base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# Feishu's and Lark's public API hosts; FEISHU_DOMAIN's host (and hosts under it) is added.
WEBHOOK_HOSTS = ("open.feishu.cn", "open.larksuite.com")
WEBHOOK_PATH = "/open-apis/bot/v2/hook/"


class WebhookURLError(ValueError):
    """A webhook URL the portal will not POST to (the message is shown to the user)."""


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookURLError(f"the host {host} cannot be resolved") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def validate_webhook_url(url: str) -> str:
    """The URL if it is a Feishu/Lark group-bot hook the portal may POST to; else WebhookURLError.

    Only `https://open.feishu.cn/open-apis/bot/v2/hook/...`, the Lark equivalent, or a
    host equal to or under FEISHU_DOMAIN's host; and every address the host resolves to
    must be public. Loopback is allowed only when FEISHU_DOMAIN itself is loopback (a
    local fake server in development and tests). Called when the URL is saved and again
    right before each send, since DNS answers change.
    """
    parsed = urlsplit(url.strip())
    host = (parsed.hostname or "").lower().rstrip(".")
    domain = urlsplit(conf.domain())
    domain_host = (domain.hostname or "").lower()
    local_fake = _is_loopback_host(domain_host)
    if parsed.username is not None or parsed.password is not None:
        raise WebhookURLError("the webhook URL must not contain a user name or password")
    if parsed.scheme != "https" and not (
        parsed.scheme == "http" and local_fake and host == domain_host
    ):
        raise WebhookURLError("the webhook URL must use https")
    allowed = {*WEBHOOK_HOSTS, domain_host}
    if not any(host == h or (h and host.endswith("." + h)) for h in allowed):
        raise WebhookURLError(
            "the webhook URL must be a Feishu or Lark group bot hook "
            "(https://open.feishu.cn/open-apis/bot/v2/hook/...)"
        )
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookURLError("the webhook URL has an invalid port") from exc
    default_port = domain.port or (443 if domain.scheme == "https" else 80)
    if port not in {443, default_port}:
        raise WebhookURLError("the webhook URL must use the standard port")
    if not parsed.path.startswith(WEBHOOK_PATH) or len(parsed.path) <= len(WEBHOOK_PATH):
        raise WebhookURLError(f"the webhook URL must start with {WEBHOOK_PATH}<token>")
    for address in _resolve(host, port):
        if local_fake and address.is_loopback:
            continue
        if not address.is_global or address.is_multicast:
            raise WebhookURLError(
                f"the host {host} resolves to a private, loopback or link-local address"
            )
    return parsed.geturl()


def send_webhook(
    *, url: str, secret: str = "", text: str | None = None, card: dict[str, Any] | None = None
) -> None:
    body: dict[str, Any]
    if card is not None:
        body = {"msg_type": "interactive", "card": card}
    else:
        body = {"msg_type": "text", "content": {"text": text or ""}}
    if secret:
        ts = int(time.time())
        body = {"timestamp": str(ts), "sign": webhook_sign(ts, secret), **body}
    try:
        url = validate_webhook_url(url)
    except WebhookURLError as exc:
        raise FeishuError(f"webhook refused: {exc}") from exc
    try:
        resp = httpx.post(url, json=body, timeout=10, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise FeishuError(f"webhook failed: {exc.__class__.__name__}") from exc
    # Never repeat the body: whatever answered is reported by its status alone (and
    # Feishu's numeric code, which is how it reports signature or rate-limit errors).
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    code = payload.get("code", payload.get("StatusCode", 0)) if isinstance(payload, dict) else None
    if resp.status_code != 200:
        raise FeishuError(f"webhook failed: HTTP {resp.status_code}")
    if not isinstance(payload, dict):
        raise FeishuError("webhook failed: HTTP 200 without a Feishu answer")
    if code not in (0, None):
        shown = f" {code}" if isinstance(code, int) and not isinstance(code, bool) else ""
        raise FeishuError(f"webhook failed: HTTP 200, Feishu code{shown}")


# --- cards (schema 2.0) --------------------------------------------------------------------


def card(
    *,
    title: str,
    markdown: str,
    buttons: list[dict[str, Any]] | None = None,
    template: str = "blue",
) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": markdown}]
    if buttons:
        elements.append(
            {
                "tag": "column_set",
                "columns": [{"tag": "column", "width": "auto", "elements": [b]} for b in buttons],
            }
        )
    return {
        "schema": "2.0",
        "config": {"update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": template},
        "body": {"elements": elements},
    }


def link_button(label: str, url: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": label},
        "type": "default",
        "behaviors": [{"type": "open_url", "default_url": url}],
    }


def callback_button(label: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": label},
        "type": "primary",
        "behaviors": [{"type": "callback", "value": value}],
    }


def update_card(*, message_id: str, card: dict[str, Any]) -> None:
    """Replace the content of a card the bot sent (PATCH im/v1/messages/:id)."""
    from lark_oapi.api.im.v1 import PatchMessageRequest, PatchMessageRequestBody

    request = (
        PatchMessageRequest.builder()
        .message_id(message_id)
        .request_body(
            PatchMessageRequestBody.builder().content(json.dumps(card, ensure_ascii=False)).build()
        )
        .build()
    )
    try:
        resp = lark_client().im.v1.message.patch(request)
    except Exception as exc:
        raise FeishuError(f"card update failed: {exc}") from exc
    _check(resp, "card update")


_own_open_ids: dict[tuple[str, str], str] = {}


def bot_info_open_id() -> str:
    """The app bot's own open_id from `GET /open-apis/bot/v3/info`, cached per app and domain.

    lark-oapi has no typed call for this endpoint, so it goes through the client's raw
    request (same tenant token). Raises FeishuError when Feishu cannot say; a failure
    is not cached, so the next message asks again.
    """
    import lark_oapi as lark

    key = (conf.app_id(), conf.domain())
    cached = _own_open_ids.get(key)
    if cached:
        return cached
    request = (
        lark.BaseRequest.builder()
        .http_method(lark.HttpMethod.GET)
        .uri("/open-apis/bot/v3/info")
        .token_types({lark.AccessTokenType.TENANT})
        .build()
    )
    try:
        resp = lark_client().request(request)
        body = json.loads(resp.raw.content) if resp.raw and resp.raw.content else {}
    except Exception as exc:
        raise FeishuError(f"bot info failed: {exc}") from exc
    open_id = str(((body.get("bot") or {}).get("open_id")) or "")
    if body.get("code") != 0 or not open_id:
        raise FeishuError(f"bot info failed: code={body.get('code')} msg={body.get('msg')}")
    _own_open_ids[key] = open_id
    return open_id
