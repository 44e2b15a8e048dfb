"""Starting the untrusted child under bubblewrap, with limits, and reading what it sends.

The child sees: /usr and the Python installation and virtualenv read-only, the job
directory read-only at /in, a size-limited tmpfs at /scratch (its working directory)
and /tmp, its own /proc and a minimal /dev (plus the NVIDIA device nodes on a GPU
worker). No network, no /etc, no portal files, no environment beyond a few names,
every namespace unshared, capabilities dropped, uid 65534. Limits: rlimits on CPU
time, address space, file size and open files; processes through RLIMIT_NPROC and,
where the worker runs as root (which RLIMIT_NPROC exempts), a pids cgroup; a
wall-clock limit and a cap on the bytes it may send, enforced here.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import queue
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("child.py")
PIDS_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
MAX_LOG_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    wall_s: float = 60.0
    cpu_s: int = 60
    # None on GPU workers: the CUDA driver reserves far more virtual address space than it uses.
    address_space_bytes: int | None = 6 * 2**30
    processes: int = 64
    file_bytes: int = 64 * 2**20
    open_files: int = 256
    tmpfs_bytes: int = 512 * 2**20
    output_bytes: int = 256 * 2**20


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass
class Frame:
    header: dict
    blob: bytes
    at: float  # the parent's perf_counter when the frame had fully arrived


@dataclass
class ChildExit:
    """How the child ended, from the parent's point of view."""

    reason: str = ""  # "", "time limit", "output too large", "crashed"
    returncode: int | None = None
    log: str = ""
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)


@functools.cache
def probe() -> tuple[bool, str]:
    """(usable, why not): bwrap installed and able to start a process with every namespace
    unshared. Cached for the life of the worker."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed on this worker"
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr"]
    cmd += ["--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"]
    cmd += ["--symlink", "usr/lib64", "/lib64", "/usr/bin/true"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip()[:300]
        return False, f"bubblewrap cannot create namespaces here (user namespaces off?): {why}"
    return True, ""


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(r for r in roots if not r.startswith("/usr"))


def bwrap_command(job_dir: Path, *, gpu: bool, tmpfs_bytes: int, env: dict[str, str]) -> list[str]:
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    cmd += ["--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    cmd += ["--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"]
    cmd += ["--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin"]
    # /tmp first: an interpreter or virtualenv that lives under /tmp (a CI checkout) is
    # then bound on top of the empty tmpfs, not hidden by it.
    cmd += ["--size", str(tmpfs_bytes), "--tmpfs", "/tmp"]
    for root in _python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--ro-bind", str(job_dir), "/in"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--size", str(tmpfs_bytes), "--tmpfs", "/scratch"]
    cmd += ["--remount-ro", "/tmp"]
    if gpu:
        for node in sorted(glob.glob("/dev/nvidia*")):
            cmd += ["--dev-bind", node, node]
        if os.path.isdir("/sys"):
            cmd += ["--ro-bind", "/sys", "/sys"]
    # The root is bwrap's own tmpfs, holding the directories it made for the binds above
    # (a checkout's /work/... parents): read-only too, so /scratch is the one writable place.
    cmd += ["--remount-ro", "/"]
    cmd += ["--chdir", "/scratch", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


def child_env(*, gpu: bool, fd: int, ctl: int, job_dir: str) -> dict[str, str]:
    env = {
        "PATH": f"{os.path.realpath(sys.prefix)}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/scratch",
        "TMPDIR": "/scratch",
        "GRADER_FD": str(fd),
        "GRADER_CTL": str(ctl),
        "GRADER_IN": job_dir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": str(min(4, os.cpu_count() or 1)),
        "TORCH_EXTENSIONS_DIR": "/scratch/torch_extensions",
        "TORCHINDUCTOR_CACHE_DIR": "/scratch/inductor",
        "TRITON_CACHE_DIR": "/scratch/triton",
        # Debian's `c++` is an /etc/alternatives link, and /etc is not in the sandbox.
        "CXX": "g++",
        "CC": "gcc",
    }
    if not gpu:
        # Triton has no CPU backend: its interpreter runs the kernel for correctness.
        env["TRITON_INTERPRET"] = "1"
    return env


class _PidsCgroup:
    """A pids cgroup (v1) around the child: RLIMIT_NPROC does not bind root's processes."""

    def __init__(self, max_pids: int) -> None:
        self.path: Path | None = None
        if os.geteuid() != 0 or not (PIDS_CGROUP_ROOT / "cgroup.procs").exists():
            return
        path = PIDS_CGROUP_ROOT / f"portal-grade-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
            self.path = path
        except OSError:
            self.path = None

    def procs_file(self) -> str | None:
        return str(self.path / "cgroup.procs") if self.path else None

    def close(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _preexec(limits: Limits, procs_file: str | None):
    def apply() -> None:
        if procs_file:
            with open(procs_file, "w") as fh:
                fh.write(str(os.getpid()))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        if limits.address_space_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limits.address_space_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class Child:
    """One run of child.py on a prepared job directory; iterate `frames()` to drive it."""

    def __init__(
        self,
        job_dir: Path,
        *,
        gpu: bool,
        limits: Limits,
        sandboxed: bool,
        reply: Callable[[dict, float], bytes | None] | None = None,
    ) -> None:
        # `reply(header, at)` runs in the reader thread as a frame arrives; bytes it returns
        # go to the child's control pipe (the child waits for them).
        self.reply = reply
        self.job_dir = job_dir
        self.gpu = gpu
        self.limits = limits
        self.sandboxed = sandboxed
        self.exit = ChildExit()
        self._log = bytearray()
        self._log_dropped = 0

    def _command(self, fd: int, ctl: int) -> tuple[list[str], dict[str, str] | None]:
        # The virtualenv's interpreter by its real path: the one bound into the sandbox.
        python = os.path.join(os.path.realpath(sys.prefix), "bin", "python")
        if not self.sandboxed:
            env_dir = str(self.job_dir)
            return [python, "-I", str(self.job_dir / "child.py")], child_env(
                gpu=self.gpu, fd=fd, ctl=ctl, job_dir=env_dir
            )
        env = child_env(gpu=self.gpu, fd=fd, ctl=ctl, job_dir="/in")
        cmd = bwrap_command(
            self.job_dir, gpu=self.gpu, tmpfs_bytes=self.limits.tmpfs_bytes, env=env
        )
        # bwrap itself gets no environment either: it is pid 1 in the sandbox, and its
        # /proc/1/environ is readable there.
        return cmd + [python, "-I", "/in/child.py"], {"PATH": "/usr/bin:/bin"}

    def frames(self) -> Iterator[Frame]:
        shutil.copy(CHILD_SCRIPT, self.job_dir / "child.py")
        for path in self.job_dir.iterdir():
            path.chmod(0o644)
        self.job_dir.chmod(0o755)
        frame_r, frame_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        cgroup = _PidsCgroup(self.limits.processes)
        cmd, env = self._command(frame_w, ctl_r)
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(frame_w, ctl_r),
            env=env,
            start_new_session=True,
            preexec_fn=_preexec(self.limits, cgroup.procs_file()),  # noqa: PLW1509
        )
        os.close(frame_w)
        os.close(ctl_r)
        frames: queue.Queue[Frame | None] = queue.Queue()
        # A thread reads the pipe so that frames are stamped when they arrive, not when the
        # grader (busy comparing outputs) gets round to them.
        reader = threading.Thread(
            target=self._pump, args=(proc, frame_r, ctl_w, started, frames), daemon=True
        )
        reader.start()
        try:
            while (frame := frames.get()) is not None:
                yield frame
        finally:
            self._kill(proc)
            reader.join(timeout=10)
            os.close(frame_r)
            os.close(ctl_w)
            assert proc.stdout is not None
            proc.stdout.close()
            cgroup.close()
            self.exit.wall_s = time.perf_counter() - started
            self.exit.log = self._log.decode(errors="replace")
            if self._log_dropped:
                self.exit.log += f"\n[... {self._log_dropped} more bytes of output dropped]"

    def _pump(
        self,
        proc: subprocess.Popen,
        frame_r: int,
        ctl_w: int,
        started: float,
        frames: queue.Queue[Frame | None],
    ) -> None:
        try:
            self._read(proc, frame_r, ctl_w, started, frames)
        except (OSError, ValueError) as exc:
            self.exit.reason = self.exit.reason or "crashed"
            self.exit.extra["reader"] = str(exc)
        finally:
            if self.exit.reason:
                self._kill(proc)
            frames.put(None)

    def _read(
        self,
        proc: subprocess.Popen,
        frame_r: int,
        ctl_w: int,
        started: float,
        frames: queue.Queue[Frame | None],
    ) -> None:
        assert proc.stdout is not None
        out_fd = proc.stdout.fileno()
        buf = bytearray()
        received = 0
        open_fds = {frame_r, out_fd}
        deadline = started + self.limits.wall_s
        while open_fds:
            left = deadline - time.perf_counter()
            if left <= 0:
                self.exit.reason = "time limit"
                return
            ready, _, _ = select.select(list(open_fds), [], [], min(left, 0.5))
            for fd in ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                if fd == out_fd:
                    room = max(MAX_LOG_BYTES - len(self._log), 0)
                    self._log += chunk[:room]
                    self._log_dropped += max(0, len(chunk) - room)
                    continue
                received += len(chunk)
                if received > self.limits.output_bytes:
                    self.exit.reason = "output too large"
                    return
                buf += chunk
                now = time.perf_counter()
                while True:
                    frame, used = _parse(buf)
                    if frame is None:
                        break
                    del buf[:used]
                    if frame[0].get("event") == "batch_begin":
                        # The child waits for this byte: the batch starts after `now`.
                        now = time.perf_counter()
                        os.write(ctl_w, b"g")
                    if self.reply is not None and (answer := self.reply(frame[0], now)):
                        os.write(ctl_w, answer)
                    frames.put(Frame(frame[0], frame[1], now))
        try:
            self.exit.returncode = proc.wait(timeout=max(0.1, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            self.exit.reason = "time limit"
            return
        code = self.exit.returncode
        # killed by a signal: a negative code directly, 128 + the signal through bwrap (its
        # pid 1 exits with the status a shell would give)
        sig = -code if code and code < 0 else code - 128 if code and 128 < code < 160 else 0
        if sig:
            self.exit.reason = "time limit" if sig == signal.SIGXCPU else "crashed"
            try:
                self.exit.extra["signal"] = signal.Signals(sig).name
            except ValueError:
                self.exit.extra["signal"] = str(sig)
        elif code:
            self.exit.reason = "crashed"

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _parse(buf: bytearray) -> tuple[tuple[dict, bytes] | None, int]:
    if len(buf) < 4:
        return None, 0
    (hlen,) = struct.unpack(">I", buf[:4])
    if hlen > 1 << 20:
        raise ValueError("frame header too large")
    if len(buf) < 4 + hlen:
        return None, 0
    header = json.loads(bytes(buf[4 : 4 + hlen]))
    nbytes = int(header.get("nbytes", 0))
    end = 4 + hlen + nbytes
    if len(buf) < end:
        return None, 0
    return (header, bytes(buf[4 + hlen : end])), end
