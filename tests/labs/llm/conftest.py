"""Fixtures for the LLM lab tests: the tiny random Llama and a running baseline server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.labs.llm.checkpoints import ensure_tiny_random
from portal.labs.llm.servers import ServerProcess, transformers_server
from portal.labs.testing import RecordingContext, run_inline
from tests.labs.llm.params import SMALL_QUANT, SMALL_SERVING


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


@pytest.fixture(scope="session")
def quant_inline() -> RecordingContext:
    """One small llm-quant run (tiny model: bf16, LLM.int8, NF4; GPTQ skipped) for the session."""
    return run_inline("llm-quant", SMALL_QUANT)


@pytest.fixture(scope="session")
def serving_inline(tmp_path_factory) -> RecordingContext:
    """One small llm-serving run: our server at concurrency 1 and 2, vLLM absent (skipped)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VLLM_PYTHON", str(tmp_path_factory.mktemp("novllm") / "nowhere" / "python"))
    try:
        return run_inline("llm-serving", SMALL_SERVING)
    finally:
        mp.undo()
