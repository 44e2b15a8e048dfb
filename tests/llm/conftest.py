"""Fixtures for the LLM lab tests: the tiny random Llama and a running baseline server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.labs.llm.checkpoints import ensure_tiny_random
from portal.labs.llm.servers import ServerProcess, transformers_server


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return ensure_tiny_random()


@pytest.fixture(scope="module")
def baseline_server(tiny_model_dir: Path, tmp_path_factory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = transformers_server(
        str(tiny_model_dir), served_name="tiny", log_path=log, dtype="fp32", threads=1
    )
    with server:
        server.wait_ready(120)
        yield server
