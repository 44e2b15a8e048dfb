"""The web processes' connection pool comes back within seconds of PostgreSQL: its wait
between reconnection attempts stops growing at 2 s (psycopg_pool's own doubles for up to
five minutes). The real outage is tests/reliability/test_real_outages.py."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from psycopg_pool.base import AttemptWithBackoff

from portal.core.db.base import (
    RETRY_MAX_S,
    CappedAttempt,
    DatabaseWrapper,
    RecoveringConnectionPool,
)


def delays(attempt: AttemptWithBackoff, tries: int) -> list[float]:
    out = []
    for _ in range(tries):
        attempt.update_delay(now=1000.0)
        out.append(attempt.delay)
    return out


def test_reconnection_attempts_wait_at_most_two_seconds():
    default = delays(AttemptWithBackoff(timeout=300), 8)
    capped = delays(CappedAttempt(timeout=300), 8)
    assert default[-1] > 60  # psycopg_pool: 1, 2, 4, ... 128 s
    assert 0.8 < capped[0] < 1.2  # psycopg_pool's first wait, with its jitter
    assert max(capped) == RETRY_MAX_S
    assert capped[2:] == [RETRY_MAX_S] * 6


@pytest.mark.django_db
def test_the_portals_backend_builds_a_recovering_pool(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "portal.core.db"
    params = copy.deepcopy(connection.settings_dict)
    params["OPTIONS"] = {**params["OPTIONS"], "pool": {"min_size": 1, "max_size": 2}}
    params["CONN_MAX_AGE"] = 0
    wrapper = DatabaseWrapper(params, alias="pool-test")
    try:
        assert isinstance(wrapper.pool, RecoveringConnectionPool)
        wrapper.pool.open(wait=True, timeout=10)
        with wrapper.pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        wrapper.close_pool()
