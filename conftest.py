"""Session plumbing: the suite starts its own embedded PostgreSQL and Redis.

Settings point the test run at `<PORTAL_DATA_DIR>/test`, so the suite never
touches the data of a running `make run`. Servers the suite started are
stopped at the end; servers it found running are left alone.
"""

from __future__ import annotations

import pytest

_services = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _services
    from portal.core.embedded import embedded_services_from_settings

    _services = embedded_services_from_settings().start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _services is not None:
        # Close Django's connections first so PostgreSQL can stop quickly.
        from django.db import connections

        connections.close_all()
        _services.stop()
