"""The harness's safeguards: each planted cheat must be caught, and an honest kernel must pass."""

from __future__ import annotations

import torch

from portal.labs.kernels.engine.harness import (
    SAFEGUARDS,
    TOLERANCES,
    CacheFlusher,
    check_kernel,
    time_kernel,
)
from portal.labs.kernels.engine.suite import Problem
from portal.labs.kernels.engine.sweep import SweepConfig, run_point

CPU = torch.device("cpu")


def _problem(kernel: str = "vector_add", n: int = 48, dtype=torch.float32) -> Problem:
    return Problem(kernel, n, dtype, CPU)


def _check(fn, problem: Problem | None = None, trials: int = 3):
    p = problem or _problem()
    return check_kernel(fn, p.make_inputs, p.reference, p.dtype, CPU, trials=trials)


def test_an_honest_kernel_passes_every_check():
    result = _check(torch.add)
    assert result.ok, result.reason
    assert result.checks == 3
    assert 0 <= result.max_rel_err <= 1


def test_a_deliberately_wrong_kernel_fails():
    result = _check(lambda a, b: a + b * 1.01)
    assert not result.ok
    assert "outside tolerance" in result.reason


def test_a_kernel_returning_a_cached_output_fails_on_the_next_fresh_inputs():
    cache: dict[tuple, torch.Tensor] = {}

    def cached_add(a, b):
        key = tuple(a.shape)
        if key not in cache:
            cache[key] = a + b
        return cache[key].clone()

    result = _check(cached_add)
    assert not result.ok
    assert result.reason.startswith("check 2/3")


def test_a_kernel_caching_by_pointer_passes_the_checks_but_fails_after_timing():
    # Passes fresh-input checks (new tensors, new addresses), then the timing loop
    # reuses input sets; the in-place refill at the same addresses exposes the stale cache.
    cache: dict[int, torch.Tensor] = {}

    def pointer_cached_add(a, b):
        key = a.data_ptr()
        if key not in cache:
            cache[key] = a + b
        return cache[key].clone()

    cfg = SweepConfig(
        kernels=["vector_add"], dtypes=["float32"], sizes=[48], impls=["eager"], device=CPU,
        trials=1, target_ms=5, max_reps=5, flush=False,
    )  # fmt: skip
    import portal.labs.kernels.engine.sweep as sweep_module

    original = sweep_module.implementation
    sweep_module.implementation = lambda p, impl: pointer_cached_add
    try:
        point = run_point(_problem(), "planted", cfg, None)
    finally:
        sweep_module.implementation = original
    assert point.status == "incorrect"
    assert "same-address refill" in point.reason or "timed output" in point.reason
    assert point.median_ms is None, "a wrong kernel must not get a time"


def test_a_kernel_writing_only_part_of_the_output_fails():
    def half_add(a, b):
        out = torch.empty_like(a)
        half = a.numel() // 2
        out[:half] = a[:half] + b[:half]
        return out

    result = _check(half_add)
    assert not result.ok


def test_partial_writes_into_a_reused_buffer_fail_even_when_the_old_values_were_right():
    # A persistent output buffer: the unwritten half holds the previous call's
    # correct answer, which is wrong for the new inputs.
    state: dict[str, torch.Tensor] = {}

    def lazy_add(a, b):
        if "out" not in state:
            state["out"] = a + b
            return state["out"]
        half = a.numel() // 2
        state["out"][:half] = a[:half] + b[:half]
        return state["out"]

    assert not _check(lazy_add).ok


def test_unwritten_output_memory_reads_as_nan_after_poisoning():
    from portal.labs.kernels.engine.harness import call_checked

    p = _problem("softmax", 16)
    x = p.make_inputs(1)
    # Reads the poisoned allocator block it is handed: a small torch.empty on the
    # CPU reuses the block the harness just freed.
    result = call_checked(lambda t: torch.empty_like(t), x, p.reference(x), p.dtype, CPU)
    assert not result.ok
    assert "NaN" in result.reason or "outside tolerance" in result.reason


def test_a_kernel_producing_nan_fails_even_if_the_rest_is_right():
    def nan_add(a, b):
        out = a + b
        out[3] = float("nan")
        return out

    result = _check(nan_add)
    assert not result.ok
    assert "NaN" in result.reason


def test_a_kernel_that_modifies_its_inputs_fails():
    result = _check(lambda a, b: a.add_(b))
    assert not result.ok
    assert "input 0 was modified" in result.reason


def test_a_kernel_returning_wrong_shape_or_dtype_fails():
    assert "shape" in _check(lambda a, b: (a + b)[:-1]).reason
    assert "dtype" in _check(lambda a, b: (a + b).double()).reason


def test_a_kernel_that_raises_is_a_failed_check_not_a_crash():
    def broken(a, b):
        raise RuntimeError("launch failed")

    result = _check(broken)
    assert not result.ok and "launch failed" in result.reason


def test_inputs_are_fresh_random_values_never_zeros_and_differ_between_checks():
    p = _problem()
    first, second = p.make_inputs(1), p.make_inputs(2)
    assert first[0].abs().min() > 0 or first[0].count_nonzero() > 0.99 * first[0].numel()
    assert not torch.equal(first[0], second[0])
    assert first[0].std() > 0.5


def test_references_run_in_float64_and_tolerances_cover_every_dtype():
    p = _problem(dtype=torch.bfloat16)
    assert p.reference(p.make_inputs(0)).dtype == torch.float64
    assert set(TOLERANCES) >= {torch.float32, torch.float16, torch.bfloat16}


def test_bfloat16_rounding_passes_but_a_float16_sized_error_in_float32_does_not():
    # An honest bf16 kernel passes its own tolerance...
    assert _check(torch.add, _problem(dtype=torch.bfloat16)).ok
    # ...but computing a float32 kernel through bf16 is caught.
    lossy = _check(lambda a, b: (a.bfloat16() + b.bfloat16()).float())
    assert not lossy.ok


def test_timing_reports_a_median_and_spread_over_many_repetitions_with_a_cache_flush():
    p = _problem(n=64)
    sets = [p.make_inputs(i) for i in range(2)]
    flusher = CacheFlusher(CPU, nbytes=2**20)
    timing, out, last = time_kernel(
        torch.add, sets, CPU, warmup=1, min_reps=7, max_reps=9, target_ms=1e6, flusher=flusher
    )
    assert 7 <= len(timing.times_ms) <= 9
    assert timing.median_ms > 0 and timing.spread_pct >= 0
    assert timing.quantile(0.2) <= timing.median_ms <= timing.quantile(0.8)
    assert torch.equal(out, sets[last][0] + sets[last][1])


def test_every_safeguard_is_explained_for_the_page():
    keys = [key for key, _, _ in SAFEGUARDS]
    assert len(keys) == len(set(keys)) >= 12
    assert {"fresh_inputs", "poisoned_output", "anti_caching", "cache_flush"} <= set(keys)
    assert all(len(text) > 60 for _, _, text in SAFEGUARDS)
