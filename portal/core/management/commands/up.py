"""`python manage.py up`: the whole portal in one process tree.

Starts the embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL point
elsewhere), migrates, loads the built-in content, then runs the ASGI server and the Celery
workers: one for the lab queues (with the beat scheduler), one for the `feishu` queue, so a
bot answer never waits behind a lab run, and one for the `long` queue, so an hours-long
deployment never holds the slot the other labs' runs wait for.

The web server is uvicorn with `PORTAL_WEB_WORKERS` processes (default: the CPU
count) behind one listening socket; its supervisor replaces a web process that
dies, and websockets work across processes through the Redis channel layer.
`--server daphne` runs the former single daphne process (for comparisons).
Ctrl-C (or SIGTERM) stops everything it started; children die with it even on SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.embedded import EmbeddedServiceError, embedded_services_from_settings
from portal.core.processes import die_with_parent


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


WEB_SERVERS = ("uvicorn", "daphne")


def web_command(server: str, host: str, port: int, workers: int) -> list[str]:
    """The ASGI server's command line: uvicorn with `workers` processes, or one daphne."""
    if server == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            host,
            "-p",
            str(port),
            "portal.asgi:application",
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "portal.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        # Channels' router has no lifespan handler; "auto" would log a traceback per process.
        "--lifespan",
        "off",
        "--ws",
        "websockets",
        "--http",
        "auto",  # httptools when installed (a dependency), else h11
        # Like daphne: client addresses are the socket's; trusting X-Forwarded-* is a
        # deployment decision (a reverse proxy), not a default.
        "--no-proxy-headers",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]


# A Celery worker that exits is started again, unless it exited more than MAX_RESTARTS
# times within RESTART_WINDOW_S (then something is wrong that a restart will not mend).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


def worker_commands(schedule: Path) -> list[tuple[str, list[str]]]:
    """The Celery workers `up` starts: one for PORTAL_WORKER_QUEUES (with beat), one for the
    feishu queue (unless listed there), so a bot answer never waits behind a lab run, and
    one for the long queue (hours-long labs such as llm-deploy), so a deployment never
    holds the slot the other labs' runs wait for."""
    celery = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
    host = socket.gethostname()
    commands = [
        (
            "worker",
            [
                *celery,
                "-Q",
                ",".join(settings.PORTAL_WORKER_QUEUES),
                "-c",
                str(settings.PORTAL_WORKER_CONCURRENCY),
                "-n",
                f"cpu@{host}",
                "--beat",
                "-s",
                str(schedule),
                "-l",
                "INFO",
            ],
        )
    ]
    if settings.FEISHU_QUEUE not in settings.PORTAL_WORKER_QUEUES:
        commands.append(
            (
                "worker-feishu",
                [
                    *celery,
                    "-Q",
                    settings.FEISHU_QUEUE,
                    "-c",
                    str(settings.PORTAL_FEISHU_WORKER_CONCURRENCY),
                    "-n",
                    f"feishu@{host}",
                    # in the data dir: tools (and tests) find the worker by it
                    "--pidfile",
                    str(schedule.parent / "celery-feishu.pid"),
                    "-l",
                    "INFO",
                ],
            )
        )
    long_queue = settings.PORTAL_QUEUE_ROUTES["long"]
    if (
        settings.PORTAL_LONG_WORKER_CONCURRENCY > 0
        and long_queue not in settings.PORTAL_WORKER_QUEUES
    ):
        commands.append(
            (
                "worker-long",
                [
                    *celery,
                    "-Q",
                    long_queue,
                    "-c",
                    str(settings.PORTAL_LONG_WORKER_CONCURRENCY),
                    "-n",
                    f"long@{host}",
                    # in the data dir: tools (and tests) find the worker by it
                    "--pidfile",
                    str(schedule.parent / "celery-long.pid"),
                    "-l",
                    "INFO",
                ],
            )
        )
    return commands


class Command(BaseCommand):
    help = "Start the whole portal: embedded services, migrations, content, web server and a Celery worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("PORTAL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORTAL_PORT", "8000")))
        parser.add_argument(
            "--server",
            choices=WEB_SERVERS,
            default=os.environ.get("PORTAL_WEB_SERVER", "uvicorn"),
            help="uvicorn: several web processes (default); daphne: one process.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Web processes for uvicorn (default: PORTAL_WEB_WORKERS, else the CPU count).",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start the Celery workers."
        )
        parser.add_argument(
            "--services-only", action="store_true", help="Only run the embedded services."
        )

    def handle(self, *args: object, **options: object) -> None:
        host = str(options["host"])
        port = int(options["port"])  # type: ignore[call-overload]
        self._stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

        started = time.monotonic()
        services = embedded_services_from_settings()
        try:
            services.start()
        except EmbeddedServiceError as exc:
            raise CommandError(str(exc)) from exc
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            if services.postgres or services.redis:
                self.stdout.write(f"Embedded services ready in {settings.DATA_LAYOUT.runtime}")
            if not options["services_only"]:
                if not _port_free(host, port):
                    raise CommandError(
                        f"Port {port} on {host} is in use; stop that process or pass --port."
                    )
                self._bootstrap()
                workers = options["workers"] or settings.PORTAL_WEB_WORKERS
                if int(workers) < 1:  # type: ignore[call-overload]
                    raise CommandError("--workers must be at least 1.")
                children = self._start_children(
                    host,
                    port,
                    with_worker=not options["no_worker"],
                    server=str(options["server"]),
                    workers=int(workers),  # type: ignore[call-overload]
                )
                if not _wait_for_port(host, port, timeout=60):
                    raise CommandError("The web server did not start; see the output above.")
                self.stdout.write(
                    self.style.SUCCESS(f"AI Chip Prep Portal is up at http://{host}:{port}/ ")
                    + f"({time.monotonic() - started:.1f} s). Press Ctrl-C to stop."
                )
            self._watch(children)
        finally:
            self._stop_children(children)
            services.stop()
            self.stdout.write("Stopped.")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _bootstrap(self) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        available = get_commands()
        for name in settings.PORTAL_BOOTSTRAP_COMMANDS:
            if name in available:
                call_command(name)

    def _start_children(
        self, host: str, port: int, *, with_worker: bool, server: str = "uvicorn", workers: int = 1
    ) -> list[tuple[str, subprocess.Popen[bytes]]]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # The web processes borrow connections from a pool (settings.DB_POOL); DB_POOL=0 in
        # the environment turns it off.
        web_env = {**env, "DB_POOL": os.environ.get("DB_POOL", "1")}
        commands = [("web", web_command(server, host, port, workers))]
        if server == "uvicorn":
            self.stdout.write(f"Web: uvicorn with {workers} worker process(es)")
        if with_worker:
            commands.extend(worker_commands(settings.DATA_LAYOUT.root / "celerybeat-schedule"))
        self._commands = {name: (cmd, web_env if name == "web" else env) for name, cmd in commands}
        return [(name, self._spawn(name)) for name, _cmd in commands]

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        cmd, env = self._commands[name]
        preexec = die_with_parent(new_process_group=True)
        # Workers yield the cores to the web processes (a page, a Feishu acknowledgement).
        nice = 0 if name == "web" else settings.PORTAL_WORKER_NICE

        def start() -> None:
            if preexec is not None:
                preexec()
            if nice:
                os.nice(nice)

        return subprocess.Popen(cmd, env=env, preexec_fn=start)

    def _watch(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        """Until Ctrl-C: a Celery worker that exits is started again (a broker outage can
        end one: kombu gives up restoring its unacknowledged messages when Redis goes away);
        one that keeps exiting, or the web server's own exit (uvicorn replaces its worker
        processes itself), stops the portal."""
        exits: dict[str, list[float]] = {}
        while not self._stopping:
            for index, (name, proc) in enumerate(children):
                if proc.poll() is None:
                    continue
                now = time.monotonic()
                recent = [t for t in exits.get(name, []) if now - t < RESTART_WINDOW_S] + [now]
                exits[name] = recent
                status = f"The {name} process exited with status {proc.returncode}"
                if name == "web":
                    raise CommandError(f"{status}; stopping.")
                if len(recent) > MAX_RESTARTS:
                    raise CommandError(
                        f"{status} ({len(recent)} times in {RESTART_WINDOW_S:.0f} s); stopping."
                    )
                self.stderr.write(f"{status}; starting it again.")
                children[index] = (name, self._spawn(name))
            time.sleep(0.3)

    def _stop_children(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        for _name, proc in children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for _name, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
