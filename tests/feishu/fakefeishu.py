"""A local fake of the Feishu open platform (wire format of the real one) that
records what it receives, and helpers that build signed, encrypted events."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from Crypto.Cipher import AES

from portal.feishu.client import webhook_sign

TOKEN = "t-fake-tenant-token"


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def content(self) -> dict[str, Any]:
        """The message content (a JSON string inside the body) decoded."""
        raw = self.body.get("content")
        return json.loads(raw) if isinstance(raw, str) else (raw or {})


@dataclass
class FakeFeishu:
    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    # path prefix -> how many of the next requests to fail
    failures: dict[str, int] = field(default_factory=dict)
    webhook_secret: str = ""
    # What GET /open-apis/bot/v3/info answers as the app bot's own open_id.
    bot_open_id: str = "ou_bot"
    # Message sends that carried a `uuid` already sent within the hour: Feishu answers them
    # with the first message and sends nothing (they are not in `received`).
    duplicates: list[Received] = field(default_factory=list)
    sent_uuids: dict[str, str] = field(default_factory=dict)
    # path prefix -> (entered, release): the next such request waits until released
    holds: dict[str, tuple[threading.Event, threading.Event]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.failures.clear()
            self.duplicates.clear()
            self.sent_uuids.clear()
            for _entered, release in self.holds.values():
                release.set()
            self.holds.clear()
            self.webhook_secret = ""
            self.bot_open_id = "ou_bot"

    def hold_next(self, path_prefix: str) -> tuple[threading.Event, threading.Event]:
        """The next request to `path_prefix` waits (up to 60 s) until `release` is set;
        `entered` is set once it is waiting."""
        entered, release = threading.Event(), threading.Event()
        with self.lock:
            self.holds[path_prefix] = (entered, release)
        return entered, release

    def fail_next(self, path_prefix: str, times: int) -> None:
        with self.lock:
            self.failures[path_prefix] = times

    def requests(self, path_part: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if path_part in r.path]

    def messages(self) -> list[Received]:
        """Messages sent or replied by the app bot (not token requests)."""
        return [r for r in self.requests("/open-apis/im/v1/messages")]

    def wait_for(self, path_part: str, count: int = 1, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests(path_part)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(
            f"expected {count} request(s) to {path_part}, got {self.requests(path_part)}"
        )


def _handler(fake: FakeFeishu) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"_raw": raw.decode(errors="replace")}
            with fake.lock:
                failing = next(
                    (p for p, n in fake.failures.items() if n > 0 and url.path.startswith(p)), None
                )
                if failing:
                    fake.failures[failing] -= 1
            if url.path == "/open-apis/auth/v3/tenant_access_token/internal":
                if body.get("app_id") and body.get("app_secret"):
                    return self._reply(
                        200, {"code": 0, "msg": "ok", "tenant_access_token": TOKEN, "expire": 7200}
                    )
                return self._reply(200, {"code": 10003, "msg": "invalid param"})
            received = Received(
                self.command,
                url.path,
                {k: v[-1] for k, v in parse_qs(url.query).items()},
                dict(self.headers.items()),
                body,
            )
            if failing:
                with fake.lock:
                    fake.received.append(received)
                return self._reply(500, {"code": 1, "msg": "injected failure"})
            if url.path.startswith("/open-apis/bot/v2/hook/"):
                if fake.webhook_secret:
                    ts = int(body.get("timestamp", "0"))
                    if body.get("sign") != webhook_sign(ts, fake.webhook_secret):
                        return self._reply(200, {"code": 19021, "msg": "sign match fail"})
                with fake.lock:
                    fake.received.append(received)
                return self._reply(200, {"code": 0, "msg": "success", "data": {}})
            if url.path == "/open-apis/bot/v3/info":
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(
                        401, {"code": 99991663, "msg": "invalid tenant access token"}
                    )
                with fake.lock:
                    fake.received.append(received)
                return self._reply(
                    200,
                    {
                        "code": 0,
                        "msg": "ok",
                        "bot": {
                            "activate_status": 2,
                            "app_name": "AI Chip Prep",
                            "open_id": fake.bot_open_id,
                        },
                    },
                )
            if url.path.startswith("/open-apis/im/v1/messages"):
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(
                        401, {"code": 99991663, "msg": "invalid tenant access token"}
                    )
                with fake.lock:
                    hold = next((p for p in fake.holds if url.path.startswith(p)), None)
                    entered, release = fake.holds.pop(hold) if hold else (None, None)
                if entered is not None and release is not None:
                    entered.set()
                    release.wait(timeout=60)
                key = body.get("uuid") if isinstance(body, dict) else None
                with fake.lock:
                    if key and key in fake.sent_uuids:
                        fake.duplicates.append(received)
                        message_id = fake.sent_uuids[key]
                    else:
                        fake.received.append(received)
                        message_id = f"om_{uuid.uuid4().hex[:12]}"
                        if key:
                            fake.sent_uuids[key] = message_id
                return self._reply(
                    200, {"code": 0, "msg": "success", "data": {"message_id": message_id}}
                )
            return self._reply(404, {"code": 404, "msg": "not found"})

        do_GET = _handle
        do_POST = _handle
        do_PATCH = _handle
        do_PUT = _handle

    return Handler


def start_fake_feishu() -> tuple[FakeFeishu, ThreadingHTTPServer]:
    fake = FakeFeishu()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


# --- building events as Feishu does ---------------------------------------------------------


def encrypt(plaintext: str, key: str) -> str:
    aes_key = hashlib.sha256(key.encode()).digest()
    iv = os.urandom(16)
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    data += bytes([pad]) * pad
    return base64.b64encode(iv + AES.new(aes_key, AES.MODE_CBC, iv).encrypt(data)).decode()


def signed_request(
    payload: dict[str, Any], *, encrypt_key: str, timestamp: int | None = None, sign: bool = True
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) as Feishu sends them: AES-encrypted body and a sha256 signature."""
    body = json.dumps({"encrypt": encrypt(json.dumps(payload), encrypt_key)}).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = uuid.uuid4().hex[:16]
    headers = {"Content-Type": "application/json"}
    if sign:
        signature = hashlib.sha256((ts + nonce + encrypt_key).encode() + body).hexdigest()
        headers.update(
            {
                "X-Lark-Request-Timestamp": ts,
                "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": signature,
            }
        )
    return body, headers


def message_event(
    *,
    text: str,
    token: str,
    event_id: str | None = None,
    chat_type: str = "p2p",
    chat_id: str = "oc_chat_1",
    open_id: str = "ou_user_1",
    mentions: list[dict[str, Any]] | None = None,
    thread_id: str = "",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": f"om_{uuid.uuid4().hex[:12]}",
        "chat_id": chat_id,
        "chat_type": chat_type,
        "message_type": "text",
        "content": json.dumps({"text": text}, ensure_ascii=False),
        "create_time": str(int(time.time() * 1000)),
    }
    if mentions:
        message["mentions"] = mentions
    if thread_id:
        message["thread_id"] = thread_id
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": "cli_test",
            "tenant_key": "tenant",
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": open_id},
                "sender_type": "user",
                "tenant_key": "tenant",
            },
            "message": message,
        },
    }


def bot_mention(open_id: str = "ou_bot") -> dict[str, Any]:
    return {
        "key": "@_user_1",
        "id": {"open_id": open_id},
        "name": "Prep Bot",
        "tenant_key": "tenant",
    }
