"""The kernel suite on a real CUDA GPU: Triton compiled (not interpreted), the CUDA custom
operator, CUDA-event timing and the measured peaks. Skipped, with the reason, without a GPU;
bench/gpu_check.py runs the same paths at real sizes."""

from __future__ import annotations

import pytest
import torch

from portal.labs.kernels.engine import ops
from portal.labs.kernels.engine.harness import CacheFlusher, check_kernel, time_kernel
from portal.labs.kernels.engine.suite import (
    CPP_KERNELS,
    DTYPES,
    KERNELS,
    AttentionShape,
    Problem,
    cpp_fn,
    triton_fn,
)

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_every_triton_kernel_compiles_and_matches_the_reference_on_the_gpu(kernel, dtype):
    p = Problem(kernel, 257, DTYPES[dtype], CUDA, AttentionShape(1, 2, 64))  # ragged size
    result = check_kernel(triton_fn(p), p.make_inputs, p.reference, p.dtype, CUDA, trials=2)
    assert result.ok, result.reason


def test_the_cuda_custom_op_is_built_and_passes_opcheck_and_fullgraph_compile(tmp_path):
    loaded = ops.load()
    assert loaded.cuda, "the operator was built without its CUDA kernels (nvcc missing?)"
    x = torch.randn(33, 65, device=CUDA)
    w, b = torch.randn(65, device=CUDA), torch.randn(65, device=CUDA)
    torch.library.opcheck(torch.ops.portal_kernels.softmax.default, (x,))
    torch.library.opcheck(torch.ops.portal_kernels.layer_norm.default, (x, w, b, 1e-5))
    torch.library.opcheck(torch.ops.portal_kernels.vector_add.default, (x, x))
    compiled = torch.compile(lambda t: ops.softmax(t) * 2.0, fullgraph=True)
    torch.testing.assert_close(compiled(x), torch.softmax(x, dim=-1) * 2.0)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("kernel", CPP_KERNELS)
def test_the_cuda_kernels_match_the_reference(kernel, dtype):
    ops.load()
    p = Problem(kernel, 1031, DTYPES[dtype], CUDA)
    result = check_kernel(cpp_fn(p), p.make_inputs, p.reference, p.dtype, CUDA, trials=2)
    assert result.ok, result.reason


def test_cuda_event_timing_with_the_l2_flush_agrees_with_the_wall_clock():
    p = Problem("matmul", 2048, torch.bfloat16, CUDA)
    inputs = [p.make_inputs(seed) for seed in (1, 2)]
    timing, out, _ = time_kernel(torch.matmul, inputs, CUDA, flusher=CacheFlusher(CUDA))
    assert timing.median_ms > 0 and not timing.warnings
    # back-to-back wall-clock calls include launch gaps, never much less than the events
    assert timing.wall_ms >= 0.5 * timing.median_ms


def test_the_measured_matmul_peak_is_below_the_datasheet_not_an_unsynchronised_fantasy():
    from portal.labs.hal.peaks import known_chip
    from portal.labs.kernels.engine.peaks import _measure_matmul_tflops

    measured = _measure_matmul_tflops(CUDA, n=4096)  # fp32 on CUDA cores (TF32 off by default)
    chip = known_chip(torch.cuda.get_device_name(CUDA))
    if chip is None or chip.fp32 is None:
        pytest.skip(f"{torch.cuda.get_device_name(CUDA)} has no datasheet fp32 figure")
    assert 0 < measured <= 1.15 * chip.fp32
