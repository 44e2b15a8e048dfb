"""Session plumbing: the suite starts its own embedded PostgreSQL and Redis.

Settings point the test run at `<PORTAL_DATA_DIR>/test`, so the suite never
touches the data of a running `make run`. Servers the suite started are
stopped at the end; servers it found running are left alone.

Under pytest-xdist (`make test` runs two workers) each worker has its own
`<PORTAL_DATA_DIR>/test-gw<N>` and its own servers; the controller, which
runs no test, starts none.
"""

from __future__ import annotations

import pytest

_services = None


def _xdist_controller(config: pytest.Config) -> bool:
    dist = getattr(config.option, "dist", "no")
    return dist != "no" and not hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    global _services
    if _xdist_controller(session.config):
        return
    from portal.core.embedded import embedded_services_from_settings

    _services = embedded_services_from_settings().start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _services is not None:
        # Close Django's connections first so PostgreSQL can stop quickly.
        from django.db import connections

        connections.close_all()
        _services.stop()
