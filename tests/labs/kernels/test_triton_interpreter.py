"""The Triton kernels, checked on the CPU through Triton's interpreter in a child process."""

from __future__ import annotations

import pytest

from portal.labs.kernels.engine import interpret

ALL = ["vector_add", "softmax", "layer_norm", "matmul", "attention"]


def test_every_triton_kernel_is_correct_in_every_dtype_under_the_interpreter():
    rows = list(
        interpret.run_checks(ALL, ["float32", "float16", "bfloat16"], [24, 40], head_dim=32)
    )
    assert len(rows) == len(ALL) * 3 * 2
    failures = [r for r in rows if not r["ok"]]
    assert not failures, failures
    assert all(r["checks"] == 2 and r["impl"] == "triton" for r in rows)


def test_causal_attention_and_ragged_sizes_are_correct_under_the_interpreter():
    rows = list(interpret.run_checks(["attention", "matmul"], ["float32"], [33], causal=True))
    assert [r["ok"] for r in rows] == [True, True], rows


def test_sizes_are_capped_for_the_interpreter():
    rows = list(interpret.run_checks(["vector_add"], ["float32"], [4096]))
    assert [r["n"] for r in rows] == [interpret.INTERPRET_MAX_N]


def test_a_failing_child_process_is_reported_not_hidden():
    with pytest.raises(RuntimeError, match="interpreter child failed"):
        list(interpret.run_checks(["no_such_kernel"], ["float32"], [16]))
