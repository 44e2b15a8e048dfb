"""The run socket: stored events after `?after=<seq>`, then live ones, no gap and no duplicate."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.labs.models import Run, RunEvent, run_group

REPLAY_CHUNK = 1000
# Close code for "not yours / not signed in" (the 4000-4999 range is the application's).
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _visible_run(user: Any, run_id: int) -> Run | None:
    return Run.objects.visible_to(user).filter(pk=run_id).only("pk").first()


@database_sync_to_async
def _events(run_id: int, after: int, upto: int | None = None) -> list[dict[str, Any]]:
    events = RunEvent.objects.filter(run_id=run_id).after(after)
    if upto is not None:
        events = events.filter(seq__lte=upto)
    return [e.as_message() for e in events[:REPLAY_CHUNK]]


class RunConsumer(AsyncJsonWebsocketConsumer):
    """Streams one run's events to its owner (or staff); anyone else is closed at connect.

    The consumer joins the run's group before reading the database, so an
    event committed during the replay arrives either from the database or
    live; `last_seq` drops the copies, and a live batch that skips ahead is
    back-filled from the database.
    """

    run_id: int
    last_seq: int

    async def connect(self) -> None:
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.last_seq = max(0, int(query.get("after", ["0"])[0]))
        except ValueError:
            self.last_seq = 0
        self.joined = False
        user = self.scope.get("user")
        if user is None or await _visible_run(user, self.run_id) is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(run_group(self.run_id), self.channel_name)
        self.joined = True
        await self.accept()
        await self._send_stored()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(run_group(self.run_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket is one-way; a client may ping to keep proxies from closing it.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "last_seq": self.last_seq})

    async def _send_stored(self, upto: int | None = None) -> None:
        while True:
            events = await _events(self.run_id, self.last_seq, upto)
            if not events:
                return
            await self._send(events)
            if len(events) < REPLAY_CHUNK:
                return

    async def _send(self, events: list[dict[str, Any]]) -> None:
        await self.send_json({"type": "events", "events": events})
        self.last_seq = events[-1]["seq"]

    async def run_events(self, message: dict[str, Any]) -> None:
        """A batch published by services.append_events after its commit."""
        fresh = [e for e in message["events"] if e["seq"] > self.last_seq]
        if not fresh:
            return
        if fresh[0]["seq"] > self.last_seq + 1:
            await self._send_stored(upto=fresh[0]["seq"] - 1)
            fresh = [e for e in fresh if e["seq"] > self.last_seq]
        if fresh:
            await self._send(fresh)
