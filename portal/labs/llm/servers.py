"""Model servers as child processes: `transformers serve` and vLLM (own virtualenv).

`ServerProcess` starts a server in its own process group, waits until
GET /v1/models answers, and stops it (SIGTERM, then SIGKILL) — vLLM forks engine
processes, so the whole group is signalled.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx
import psutil

from portal.core.processes import die_with_parent, stop_group

LOOPBACK = "127.0.0.1"

REPO_ROOT = Path(__file__).resolve().parents[3]


class ServerKind(StrEnum):
    """The three servers the serving lab compares (in its default order)."""

    VLLM = "vllm"
    TRANSFORMERS_CB = "transformers-cb"  # `transformers serve --continuous-batching`
    TRANSFORMERS = "transformers"  # `transformers serve`: one request at a time

    @property
    def accepts_ignore_eos(self) -> bool:
        """vLLM can be asked for exactly max_tokens; `transformers serve` answers 422."""
        return self == ServerKind.VLLM


# the lab's dtype names as both servers' --dtype takes them
TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def kv_cache_gib() -> int:
    """The KV-cache budget on CPU, the same for both engines: vLLM's VLLM_CPU_KVCACHE_SPACE."""
    return max(1, int(os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")))


def cb_memory_fraction(gib: int) -> float:
    """`--cb-max-memory-percent` that gives continuous batching about `gib` GiB on a CPU.

    Its fraction is of the machine's free RAM; the cache, the batch buffers and the
    attention masks are sized together inside it (a fixed `--cb-num-blocks` is not: its
    masks grow with the cache, to 10 GB for a 1 GiB cache of the tiny test model).
    """
    return round(min(0.9, gib * 2**30 / psutil.virtual_memory().total), 4)


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vllm_python() -> Path | None:
    """The vLLM virtualenv's interpreter: $VLLM_PYTHON if set, else the cached CPU install."""
    from portal.labs.llm.checkpoints import cache_dir

    explicit = os.environ.get("VLLM_PYTHON")
    path = Path(explicit) if explicit else cache_dir() / "vllm-cpu-venv" / "bin" / "python"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    return None


def vllm_unavailable_reason() -> str | None:
    """Why vLLM cannot be started here, or None."""
    explicit = os.environ.get("VLLM_PYTHON")
    python = vllm_python()
    if python is None:
        if explicit:
            return f"VLLM_PYTHON={explicit} is not an executable interpreter"
        return (
            "no vLLM virtualenv: set VLLM_PYTHON=/path/to/venv/bin/python "
            "or run scripts/install-vllm-cpu.sh"
        )
    if not explicit and not (python.parent.parent / ".installed").exists():
        return f"the vLLM virtualenv at {python.parent.parent} is incomplete (no .installed)"
    return None


@dataclass
class ServerProcess:
    kind: ServerKind
    command: list[str]
    port: int
    served_name: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    # the address the server listens on; base_url always goes through the loopback
    bind_host: str = LOOPBACK
    # SIGTERM the server when the thread that started it dies (Linux): a deployment must
    # not outlive a worker that was killed without running its `finally`
    die_with_parent: bool = False
    # seconds between SIGTERM and SIGKILL when stopping
    stop_grace_s: float = 10.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = dict(os.environ)
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
                start_new_session=True,
                preexec_fn=die_with_parent() if self.die_with_parent else None,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(
        self, timeout_s: float = 180, cancelled: Callable[[], bool] = lambda: False
    ) -> float:
        """Seconds until /v1/models answered; raises ServerFailed with the log's tail."""
        assert self.proc is not None
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if cancelled():
                from portal.labs.context import RunCancelled

                raise RunCancelled()
            if self.proc.poll() is not None:
                raise ServerFailed(
                    f"{self.kind} server exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/v1/models", timeout=2).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ServerFailed(
            f"{self.kind} server not ready after {timeout_s:.0f} s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_s: float | None = None) -> None:
        if self.proc is None:
            return
        stop_group(self.proc, self.stop_grace_s if grace_s is None else grace_s)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def transformers_server(
    model_dir: str,
    *,
    log_path: Path,
    dtype: str = "fp32",
    device: str = "cpu",
    continuous_batching: bool = True,
    port: int | None = None,
    host: str = LOOPBACK,
) -> ServerProcess:
    """`transformers serve` pinned to `model_dir`, offline.

    The server answers only for the model it was started with, under that exact name
    (the directory), so the served name is the directory: requests must name it and
    GET /v1/models lists it.
    """
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        model_dir,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        TORCH_DTYPES[dtype],
        "--device",
        device,
        "--continuous-batching" if continuous_batching else "--no-continuous-batching",
    ]
    if continuous_batching and not device.startswith("cuda"):
        # Left alone, continuous batching takes 90 % of free memory, which on a CPU is
        # the machine's RAM (14 GB here): give it vLLM-CPU's KV budget instead.
        command += ["--cb-max-memory-percent", str(cb_memory_fraction(kv_cache_gib()))]
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    kind = ServerKind.TRANSFORMERS_CB if continuous_batching else ServerKind.TRANSFORMERS
    # It keeps nothing worth a graceful exit, and with continuous batching its SIGTERM
    # shutdown waits ~5 s for the batching thread: longer than the labs platform's 2 s
    # cancel grace, after which a cancelled deployment could no longer report its result.
    return ServerProcess(
        kind, command, port, model_dir, log_path, env, bind_host=host, stop_grace_s=1.0
    )


def vllm_server(
    model_dir: str,
    *,
    served_name: str,
    log_path: Path,
    dtype: str = "bf16",
    device: str = "cpu",
    max_model_len: int = 1024,
    port: int | None = None,
    host: str = LOOPBACK,
) -> ServerProcess:
    python = vllm_python()
    if python is None:
        raise ServerFailed(vllm_unavailable_reason() or "no vLLM")
    port = port or free_port()
    # The `vllm` console script fails in vllm-cpu (distribution name); the module works.
    command = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model_dir,
        "--served-model-name",
        served_name,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        TORCH_DTYPES[dtype],
        "--max-model-len",
        str(max_model_len),
        "--enforce-eager",
    ]
    env = {"VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib())}
    if not device.startswith("cuda"):
        env["VLLM_TARGET_DEVICE"] = "cpu"
    # Never let the portal's PYTHONPATH leak into vLLM's interpreter.
    env["PYTHONPATH"] = ""
    return ServerProcess(ServerKind.VLLM, command, port, served_name, log_path, env, bind_host=host)
