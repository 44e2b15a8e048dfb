"""From a stored event to its job on the `feishu` queue, outside the acknowledgement.

A delivery is acknowledged as soon as its row is stored: one `INSERT`, nothing else. A
trigger on the events table (migration 0004) sends `NOTIFY feishu_events, '<id>'` when that
insert commits. Queueing the Celery job there, in the web process, had cost about half of a
delivery's time (`apply_async`: building the message, kombu, `LPUSH`).

The relay is a thread in every Celery worker that consumes the feishu queue. It `LISTEN`s on
its own PostgreSQL connection, claims each notified event (sets `queued_at` where it is
still empty, so with several relays each event is queued once) and queues its job. Every
FEISHU_SWEEP_S seconds, and whenever it (re)connects, it also claims every event still
unclaimed: those stored while no relay listened (no worker running, a lost connection) and
those whose queueing failed (Redis down: their claims are given back). The table is the
outbox: an acknowledged event is answered even if Redis was down when it came.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from portal.feishu import conf
from portal.feishu.models import EventStatus, FeishuEvent

log = logging.getLogger(__name__)

CHANNEL = "feishu_events"  # the trigger of migration 0004 notifies it
TABLE = FeishuEvent._meta.db_table
RECEIVED = EventStatus.RECEIVED.value

_CLAIM = f"""
    UPDATE {TABLE} SET queued_at = now()
    WHERE id = ANY(%s) AND queued_at IS NULL AND status = '{RECEIVED}'
    RETURNING id
"""
_CLAIM_ALL = f"""
    UPDATE {TABLE} SET queued_at = now()
    WHERE queued_at IS NULL AND status = '{RECEIVED}'
    RETURNING id
"""
_RELEASE = f"UPDATE {TABLE} SET queued_at = NULL WHERE id = ANY(%s) AND status = '{RECEIVED}'"

Enqueue = Callable[[int], Any]


def enqueue(pk: int) -> None:
    """Queue the job that answers event `pk` on the feishu queue."""
    from portal.feishu.tasks import process_event_task

    process_event_task.apply_async(args=[pk], queue=conf.queue())


def queue_claimed(cursor: Any, ids: Iterable[int] | None, send: Enqueue = enqueue) -> list[int]:
    """Claim events (`ids`, or every unclaimed one when None) and queue their jobs; returns
    the ids queued. A job that cannot be queued gives its claim, and the rest's, back."""
    if ids is None:
        cursor.execute(_CLAIM_ALL)
    else:
        cursor.execute(_CLAIM, [list(ids)])
    claimed = sorted(row[0] for row in cursor.fetchall())
    for index, pk in enumerate(claimed):
        try:
            send(pk)
        except Exception as exc:  # noqa: BLE001 - the broker is down or refused: retry later
            cursor.execute(_RELEASE, [claimed[index:]])
            log.warning(
                "could not queue %d Feishu event(s), retrying in %.0f s: %s",
                len(claimed) - index,
                conf.sweep_s(),
                exc.__class__.__name__,
            )
            return claimed[:index]
    return claimed


def connection_params() -> dict[str, Any]:
    """Django's parameters for the default database, for a connection of our own (a LISTEN
    needs one session for as long as it listens; Django's connections come and go)."""
    from django.db import connections

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    return params


class Relay(threading.Thread):
    """LISTEN → claim → queue, with a sweep; reconnects after losing PostgreSQL."""

    def __init__(self, send: Enqueue = enqueue) -> None:
        super().__init__(name="feishu-relay", daemon=True)
        self.send = send
        self.stopped = threading.Event()
        self.listening = threading.Event()

    def run(self) -> None:
        import psycopg

        while not self.stopped.is_set():
            try:
                with psycopg.connect(**connection_params(), autocommit=True) as conn:
                    self._serve(conn)
            except psycopg.Error as exc:
                if self.listening.is_set():  # once per outage
                    log.warning("Feishu relay lost PostgreSQL, reconnecting: %s", exc)
                self.listening.clear()
                self.stopped.wait(1.0)

    def _serve(self, conn: Any) -> None:
        sweep_s = conf.sweep_s()
        with conn.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            queue_claimed(cursor, None, self.send)  # what came while nobody listened
            next_sweep = time.monotonic() + sweep_s
            while not self.stopped.is_set():
                wait = max(0.0, min(1.0, next_sweep - time.monotonic()))
                ids = [int(n.payload) for n in conn.notifies(timeout=wait, stop_after=1)]
                if ids:
                    queue_claimed(cursor, ids, self.send)
                if time.monotonic() >= next_sweep:
                    queue_claimed(cursor, None, self.send)
                    next_sweep = time.monotonic() + sweep_s

    def stop(self) -> None:
        self.stopped.set()


_relay: Relay | None = None


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    """celery.signals.worker_ready: start the relay in a worker that consumes the feishu
    queue (its main process; the pool's children are forked before)."""
    global _relay
    try:
        queues = {q.name for q in sender.app.amqp.queues.consume_from.values()}
    except Exception:  # noqa: BLE001 - no queue list: not a worker we know
        return
    if conf.queue() not in queues or not conf.relay_enabled() or _relay is not None:
        return
    _relay = Relay()
    _relay.start()
    log.info("Feishu relay listening on %r for the %s queue", CHANNEL, conf.queue())


def on_worker_shutdown(**_: Any) -> None:
    if _relay is not None:
        _relay.stop()
