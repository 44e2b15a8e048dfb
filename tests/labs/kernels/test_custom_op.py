"""The C++ operator: built with cpp_extension, registered with torch.library, traceable by torch.compile."""

from __future__ import annotations

import pytest
import torch

from portal.labs.kernels.engine import ops
from portal.labs.kernels.engine.harness import check_kernel
from portal.labs.kernels.engine.suite import CPP_KERNELS, Problem, cpp_fn

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def loaded():
    return ops.load()


def test_the_build_is_cached_under_the_data_dir_and_loads_once(loaded):
    assert loaded.library.exists()
    assert "torch_extensions" in loaded.build_dir.parts
    assert ops.load() is loaded
    assert all(hasattr(torch.ops.portal_kernels, name) for name in ops.OP_NAMES)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kernel", CPP_KERNELS)
def test_the_cpp_op_matches_the_float64_reference(loaded, kernel, dtype):
    p = Problem(kernel, 67, dtype, CPU)  # odd size: no lucky alignment
    result = check_kernel(cpp_fn(p), p.make_inputs, p.reference, dtype, CPU, trials=2)
    assert result.ok, result.reason


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("softmax", lambda: (torch.randn(5, 9),)),
        ("layer_norm", lambda: (torch.randn(5, 9), torch.randn(9), torch.randn(9), 1e-5)),
        ("vector_add", lambda: (torch.randn(11), torch.randn(11))),
    ],
)
def test_opcheck_passes_schema_fake_and_dispatch_tests(loaded, op, args):
    # Checks the schema, that the fake (meta) kernel agrees with the real one, and
    # that AOT dispatch (what torch.compile uses) works.
    torch.library.opcheck(getattr(torch.ops.portal_kernels, op).default, args())


def test_the_fake_implementation_gives_shape_and_dtype_without_computing(loaded):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty(3, 7, dtype=torch.bfloat16)
        out = torch.ops.portal_kernels.softmax(x)
    assert out.shape == (3, 7) and out.dtype == torch.bfloat16


def test_bad_input_is_a_clear_error_not_a_crash(loaded):
    with pytest.raises(RuntimeError, match="2-D"):
        ops.softmax(torch.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="shapes differ"):
        ops.vector_add(torch.randn(3), torch.randn(4))


def test_torch_compile_fullgraph_traces_through_the_custom_op(loaded):
    def model(x, w, b):
        h = torch.ops.portal_kernels.layer_norm(x * 2.0, w, b, 1e-5)
        return torch.ops.portal_kernels.softmax(h) + 1.0

    compiled = torch.compile(model, fullgraph=True)
    x, w, b = torch.randn(8, 32), torch.randn(32), torch.randn(32)
    want = torch.softmax(torch.nn.functional.layer_norm(x * 2.0, (32,), w, b, 1e-5), -1) + 1.0
    assert torch.allclose(compiled(x, w, b), want, atol=1e-5)
