"""Starter templates: a correct, plain submission per problem and language to start from."""

from __future__ import annotations

_PYTORCH_BODY = {
    "vector_add": "    a, b = data\n    return a + b\n",
    "softmax": (
        "    (x,) = data\n"
        "    # Subtract the row max first: exp() of large inputs overflows otherwise.\n"
        "    shifted = x.float() - x.float().amax(dim=-1, keepdim=True)\n"
        "    e = shifted.exp()\n"
        "    return (e / e.sum(dim=-1, keepdim=True)).to(x.dtype)\n"
    ),
    "layer_norm": (
        "    x, weight, bias = data\n"
        "    xf = x.float()\n"
        "    mean = xf.mean(dim=-1, keepdim=True)\n"
        "    var = (xf - mean).square().mean(dim=-1, keepdim=True)\n"
        "    y = (xf - mean) * torch.rsqrt(var + 1e-5) * weight.float() + bias.float()\n"
        "    return y.to(x.dtype)\n"
    ),
    "matmul": "    a, b = data\n    return (a.float() @ b.float()).to(a.dtype)\n",
    "attention": (
        "    q, k, v = data\n"
        "    scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])\n"
        "    return (torch.softmax(scores, dim=-1) @ v.float()).to(q.dtype)\n"
    ),
}

PYTORCH = (
    '"""{title}: {signature}"""\nimport math\n\nimport torch\n\n\ndef custom_kernel(data):\n{body}'
)

TRITON_VECTOR_ADD = '''"""Vector add in Triton. On a CPU worker Triton runs through its interpreter:
checked for correctness only, not timed."""
import torch
import triton
import triton.language as tl


@triton.jit
def add_kernel(a_ptr, b_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask)
    b = tl.load(b_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, a + b, mask=mask)


def custom_kernel(data):
    a, b = data
    out = torch.empty_like(a)
    n = a.numel()
    add_kernel[(triton.cdiv(n, 1024),)](a, b, out, n, BLOCK=1024)
    return out
'''

TRITON_SOFTMAX = '''"""Row softmax in Triton, one program per row. On a CPU worker Triton runs through
its interpreter: checked for correctness only, not timed."""
import torch
import triton
import triton.language as tl


@triton.jit
def softmax_kernel(x_ptr, out_ptr, cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < cols
    x = tl.load(x_ptr + row * stride + offs, mask=mask, other=-float("inf")).to(tl.float32)
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    y = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * stride + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


def custom_kernel(data):
    (x,) = data
    x = x.contiguous()
    out = torch.empty_like(x)
    rows, cols = x.shape
    softmax_kernel[(rows,)](x, out, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
    return out
'''

TRITON_GENERIC = (
    '"""{title} in Triton: {signature}\n\n'
    "Start from the Triton templates of vector add and softmax; until your kernel is\n"
    'written this falls back to PyTorch so that the template passes."""\n'
    "import math\n\n"
    "import torch\n"
    "import triton  # noqa: F401\n"
    "import triton.language as tl  # noqa: F401\n\n\n"
    "def custom_kernel(data):\n"
    "{body}"
)

CPP = '''"""{title} as a C++ operator built with torch.utils.cpp_extension.load_inline.

The build runs inside the sandbox (first build ~30-60 s). {signature}"""
import torch
from torch.utils.cpp_extension import load_inline

CPP_SOURCE = r"""
#include <torch/extension.h>

torch::Tensor run(std::vector<torch::Tensor> data) {{
{cpp_body}
}}
"""

_ops = load_inline(
    name="submission_ops",
    cpp_sources=[CPP_SOURCE],
    functions=["run"],
    extra_cflags=["-O2"],
    verbose=False,
)


def custom_kernel(data):
    return _ops.run(list(data))
'''

_CPP_BODY = {
    "vector_add": (
        "  auto a = data[0].contiguous(), b = data[1].contiguous();\n"
        "  auto out = torch::empty_like(a);\n"
        "  if (a.scalar_type() == torch::kFloat && a.device().is_cpu()) {\n"
        "    const float* pa = a.data_ptr<float>();\n"
        "    const float* pb = b.data_ptr<float>();\n"
        "    float* po = out.data_ptr<float>();\n"
        "    for (int64_t i = 0; i < a.numel(); ++i) po[i] = pa[i] + pb[i];\n"
        "    return out;\n"
        "  }\n"
        "  return a + b;  // other dtypes and devices: write your kernel here"
    ),
    "softmax": "  return torch::softmax(data[0].to(torch::kFloat), -1).to(data[0].scalar_type());",
    "layer_norm": (
        "  auto x = data[0];\n"
        "  return torch::layer_norm(x.to(torch::kFloat), {x.size(-1)}, data[1].to(torch::kFloat),\n"
        "                           data[2].to(torch::kFloat), 1e-5).to(x.scalar_type());"
    ),
    "matmul": (
        "  return torch::matmul(data[0].to(torch::kFloat), data[1].to(torch::kFloat))"
        ".to(data[0].scalar_type());"
    ),
    "attention": (
        "  auto q = data[0].to(torch::kFloat), k = data[1].to(torch::kFloat),"
        " v = data[2].to(torch::kFloat);\n"
        "  auto s = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt((double)q.size(-1));\n"
        "  return torch::matmul(torch::softmax(s, -1), v).to(data[0].scalar_type());"
    ),
}


def template(problem: str, language: str) -> str:
    from portal.labs.kernels.grading.catalog import SPECS  # torch-free

    p = SPECS[problem]
    if language == "triton" and problem == "vector_add":
        return TRITON_VECTOR_ADD
    if language == "triton" and problem == "softmax":
        return TRITON_SOFTMAX
    fmt = {"title": p.title, "signature": p.signature, "body": _PYTORCH_BODY[problem]}
    if language == "triton":
        return TRITON_GENERIC.format(**fmt)
    if language == "cpp":
        return CPP.format(cpp_body=_CPP_BODY[problem], **fmt)
    return PYTORCH.format(**fmt)
