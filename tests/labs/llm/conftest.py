"""Fixtures for the LLM lab tests: the tiny random Llama and small lab runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.labs.llm.checkpoints import ensure_tiny_random
from portal.labs.testing import RecordingContext, run_inline
from tests.labs.llm.params import SMALL_QUANT, SMALL_SERVING


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return ensure_tiny_random()


@pytest.fixture(scope="session")
def quant_inline() -> RecordingContext:
    """One small llm-quant run (tiny model: bf16, LLM.int8, NF4; GPTQ skipped) for the session."""
    return run_inline("llm-quant", SMALL_QUANT)


@pytest.fixture(scope="session")
def serving_inline(tmp_path_factory) -> RecordingContext:
    """One small llm-serving run in fp32: transformers serve with and without continuous
    batching at concurrency 1 and 2, vLLM absent (skipped)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VLLM_PYTHON", str(tmp_path_factory.mktemp("novllm") / "nowhere" / "python"))
    try:
        return run_inline("llm-serving", SMALL_SERVING)
    finally:
        mp.undo()
