"""The one way to push an event to browsers: Channels groups over Redis.

Callers publish after their transaction commits (`transaction.on_commit`),
and only what is already stored, so a reload or a late joiner loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Publishing is best effort: what is published is already stored, and clients catch up
# from their last sequence number when they reconnect. A Redis outage must not fail the
# writer (a lab's event flush, a request) that already committed its rows.
_LAYER_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send `payload` to every consumer in `group`; the consumer's handler is `event_type`."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": event_type, **payload})
    except _LAYER_DOWN as exc:
        log.warning("realtime: not published to %s (%s: %s)", group, type(exc).__name__, exc)


async def apublish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": event_type, **payload})
    except _LAYER_DOWN as exc:
        log.warning("realtime: not published to %s (%s: %s)", group, type(exc).__name__, exc)
