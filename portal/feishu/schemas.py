"""Validated shapes at the edge: Feishu events and card actions."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError


class MentionId(BaseModel):
    open_id: str = ""


class Mention(BaseModel):
    key: str
    id: MentionId = Field(default_factory=MentionId)
    name: str = ""


class MessageEvent(BaseModel):
    """The parts of `im.message.receive_v1` the bot uses."""

    event_id: str
    sender_open_id: str
    chat_id: str
    chat_type: str
    message_id: str
    thread_key: str = ""
    message_type: str
    text: str = ""
    mentions: list[Mention] = Field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MessageEvent:
        """Build from the decrypted event JSON; raises ValueError when it is not one."""
        try:
            header = payload["header"]
            event = payload["event"]
            message = event["message"]
            sender = event.get("sender") or {}
            content = message.get("content") or "{}"
            body = json.loads(content) if isinstance(content, str) else content
            return cls(
                event_id=header["event_id"],
                sender_open_id=((sender.get("sender_id") or {}).get("open_id") or ""),
                chat_id=message["chat_id"],
                chat_type=message.get("chat_type") or "p2p",
                message_id=message["message_id"],
                thread_key=message.get("thread_id") or message.get("root_id") or "",
                message_type=message.get("message_type") or "text",
                text=str(body.get("text", "")) if isinstance(body, dict) else "",
                mentions=message.get("mentions") or [],
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError, ValidationError) as exc:
            raise ValueError(f"not a message event: {exc}") from exc


class CardAction(BaseModel):
    action: str
    chat_id: str = ""
    thread_key: str = ""
    model: str = ""
    pk: int | None = None
