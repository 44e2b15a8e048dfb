"""The one way to push an event to browsers: Channels groups over Redis.

Callers publish after their transaction commits (`transaction.on_commit`),
and only what is already stored, so a reload or a late joiner loses nothing.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send `payload` to every consumer in `group`; the consumer's handler is `event_type`."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(group, {"type": event_type, **payload})


async def apublish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, {"type": event_type, **payload})
