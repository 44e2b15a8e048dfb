"""Django's PostgreSQL backend with a connection pool that recovers in seconds.

psycopg_pool retries a failed connection with an exponential back-off (1 s, 2 s, 4 s, ...
for up to five minutes). After an outage of half a minute a web process's next attempt could
be 16-32 s away: PostgreSQL was back, and pages still answered 503 for as long. Here the
wait between attempts stops growing at `RETRY_MAX_S`; a failed attempt on a local socket
costs next to nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RETRY_MAX_S = 2.0


class CappedAttempt(AttemptWithBackoff):
    """psycopg_pool's reconnection attempt, its delay capped at RETRY_MAX_S."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RETRY_MAX_S)


class RecoveringConnectionPool(ConnectionPool):
    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        # Retries of a failed attempt reuse the attempt they are given; only a first
        # attempt is built here (psycopg_pool builds the default kind otherwise).
        if attempt is None:
            attempt = CappedAttempt(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing=growing)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        if self.alias not in self._connection_pools:
            pool = super().pool
            if pool is None:
                return None
            # Django built a plain ConnectionPool, not opened yet: give it the recovering
            # behaviour (a subclass that only overrides how a reconnection waits).
            pool.__class__ = RecoveringConnectionPool
        return self._connection_pools[self.alias]
