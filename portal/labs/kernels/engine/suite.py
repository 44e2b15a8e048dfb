"""The kernel suite: what each kernel computes, its float64 reference, its cost model and its implementations.

One size knob `n` scales every kernel to about n*n elements of data:
vector add on n*n elements, softmax and layer norm on an n x n matrix (over the
last dim), matmul n x n x n, attention with sequence length n and fixed batch,
heads and head dim.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .catalog import LN_EPS
from .harness import Inputs, KernelFn

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


@dataclass(frozen=True)
class AttentionShape:
    batch: int = 2
    heads: int = 8
    head_dim: int = 64
    causal: bool = False


@dataclass(frozen=True)
class Problem:
    kernel: str
    n: int
    dtype: torch.dtype
    device: torch.device
    attn: AttentionShape = AttentionShape()

    @property
    def spec(self) -> KernelSpec:
        return KERNELS[self.kernel]

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def element_size(self) -> int:
        return torch.empty((), dtype=self.dtype).element_size()

    def shape_text(self) -> str:
        return self.spec.shape_text(self)

    def make_inputs(self, seed: int) -> Inputs:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return self.spec.make_inputs(self, gen)

    def reference(self, inputs: Inputs) -> torch.Tensor:
        return self.spec.reference(self, tuple(t.to(torch.float64) for t in inputs))

    @property
    def bytes(self) -> int:
        return self.spec.bytes(self)

    @property
    def flops(self) -> int:
        return self.spec.flops(self)


def _randn(p: Problem, gen: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    # Generated in fp32 then rounded, so every dtype sees the same distribution.
    t = torch.randn(*shape, generator=gen, device=p.device, dtype=torch.float32)
    return (t * scale).to(p.dtype)


# --- vector add ---------------------------------------------------------------------------


def _add_inputs(p: Problem, gen: torch.Generator) -> Inputs:
    return _randn(p, gen, p.n * p.n), _randn(p, gen, p.n * p.n)


# --- softmax ------------------------------------------------------------------------------


def _softmax_inputs(p: Problem, gen: torch.Generator) -> Inputs:
    # Scaled so rows have a few dominant entries: a softmax that forgets the
    # max subtraction or the normalisation is visibly wrong.
    return (_randn(p, gen, p.n, p.n, scale=4.0),)


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    shifted = x - x.amax(dim=-1, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=-1, keepdim=True)


# --- layer norm ---------------------------------------------------------------------------


def _ln_inputs(p: Problem, gen: torch.Generator) -> Inputs:
    x = (
        torch.randn(p.n, p.n, generator=gen, device=p.device) * 2.0
        + torch.randn(p.n, 1, generator=gen, device=p.device)
    ).to(p.dtype)
    return x, _randn(p, gen, p.n), _randn(p, gen, p.n)


def layer_norm_reference(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    var = (x - mean).square().mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + LN_EPS) * w + b


def _layer_norm_eager(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), w, b, LN_EPS)


# --- matmul -------------------------------------------------------------------------------


def _mm_inputs(p: Problem, gen: torch.Generator) -> Inputs:
    return _randn(p, gen, p.n, p.n), _randn(p, gen, p.n, p.n)


def tiled_matmul(a: torch.Tensor, b: torch.Tensor, block: int = 0) -> torch.Tensor:
    """The tiling the Triton kernel does, written in plain PyTorch: C[i,j] += A[i,k] @ B[k,j] in fp32."""
    m, k = a.shape
    _, n = b.shape
    block = block or max(64, max(m, n, k) // 8)
    c = torch.empty(m, n, dtype=a.dtype, device=a.device)
    for i in range(0, m, block):
        for j in range(0, n, block):
            acc = torch.zeros(min(block, m - i), min(block, n - j), device=a.device)
            for kk in range(0, k, block):
                acc += (
                    a[i : i + block, kk : kk + block].float()
                    @ b[kk : kk + block, j : j + block].float()
                )
            c[i : i + block, j : j + block] = acc.to(a.dtype)
    return c


# --- attention ----------------------------------------------------------------------------


def _attn_inputs(p: Problem, gen: torch.Generator) -> Inputs:
    a = p.attn
    shape = (a.batch, a.heads, p.n, a.head_dim)
    return _randn(p, gen, *shape), _randn(p, gen, *shape), _randn(p, gen, *shape)


def attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v, materialising the scores, a few heads at a time."""
    b, h, n, d = q.shape
    out = torch.empty_like(q)
    qf, kf, vf = (t.reshape(b * h, n, d) for t in (q, k, v))
    of = out.view(b * h, n, d)
    chunk = max(1, (2**28) // (n * n * 8))  # bound the score matrix to ~256 MiB
    mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril() if causal else None
    for s in range(0, b * h, chunk):
        scores = qf[s : s + chunk] @ kf[s : s + chunk].transpose(-1, -2) / math.sqrt(d)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        of[s : s + chunk] = softmax_reference(scores) @ vf[s : s + chunk]
    return out


def online_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False, block: int = 128
) -> torch.Tensor:
    """FlashAttention's forward in plain PyTorch: stream K/V blocks with an online softmax.

    Keeps a running row max m, denominator l and unnormalised output acc; each new
    block rescales the old sums by exp(m_old - m_new). The n x n score matrix is
    never held whole, only one n x block slice of it.
    """
    b, h, n, d = q.shape
    qf = q.float() / math.sqrt(d)
    m = torch.full((b, h, n), float("-inf"), device=q.device)
    l = torch.zeros((b, h, n), device=q.device)  # noqa: E741
    acc = torch.zeros((b, h, n, d), device=q.device)
    rows = torch.arange(n, device=q.device)
    for start in range(0, n, block):
        kb = k[:, :, start : start + block].float()
        vb = v[:, :, start : start + block].float()
        scores = qf @ kb.transpose(-1, -2)
        if causal:
            cols = torch.arange(start, start + kb.shape[2], device=q.device)
            scores = scores.masked_fill(rows[:, None] < cols[None, :], float("-inf"))
        m_new = torch.maximum(m, scores.amax(dim=-1))
        alpha = torch.exp(m - m_new)
        p = torch.exp(scores - m_new[..., None])
        l = l * alpha + p.sum(dim=-1)  # noqa: E741
        acc = acc * alpha[..., None] + p @ vb
        m = m_new
    return (acc / l[..., None]).to(q.dtype)


# --- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    name: str
    title: str
    summary: str
    make_inputs: Callable[[Problem, torch.Generator], Inputs]
    reference: Callable[[Problem, Inputs], torch.Tensor]
    eager: Callable[[Problem], KernelFn]
    bytes: Callable[[Problem], int]
    flops: Callable[[Problem], int]
    shape_text: Callable[[Problem], str]


def _attn_flops(p: Problem) -> int:
    a = p.attn
    full = 4 * a.batch * a.heads * p.n * p.n * a.head_dim  # QK^T and PV, 2 flops per MAC
    return full // 2 if a.causal else full


KERNELS: dict[str, KernelSpec] = {
    spec.name: spec
    for spec in [
        KernelSpec(
            name="vector_add",
            title="Vector add",
            summary="out = a + b over n*n elements: pure bandwidth, 1 flop per 12 bytes (fp32).",
            make_inputs=_add_inputs,
            reference=lambda p, t: t[0] + t[1],
            eager=lambda p: torch.add,
            bytes=lambda p: 3 * p.n * p.n * p.element_size,
            flops=lambda p: p.n * p.n,
            shape_text=lambda p: f"{p.n * p.n:,} elements",
        ),
        KernelSpec(
            name="softmax",
            title="Fused softmax",
            summary="Row-wise softmax of an n x n matrix in one pass over memory "
            "(read once, write once) instead of the 3-5 passes of a naive version.",
            make_inputs=_softmax_inputs,
            reference=lambda p, t: softmax_reference(t[0]),
            eager=lambda p: lambda x: torch.softmax(x, dim=-1),
            bytes=lambda p: 2 * p.n * p.n * p.element_size,
            flops=lambda p: 5 * p.n * p.n,
            shape_text=lambda p: f"{p.n} x {p.n}",
        ),
        KernelSpec(
            name="layer_norm",
            title="Layer norm",
            summary="LayerNorm forward over the last dim of an n x n matrix with weight and "
            "bias: two reductions (mean, variance) and an affine map, fused.",
            make_inputs=_ln_inputs,
            reference=lambda p, t: layer_norm_reference(*t),
            eager=lambda p: _layer_norm_eager,
            bytes=lambda p: (2 * p.n * p.n + 2 * p.n) * p.element_size,
            flops=lambda p: 8 * p.n * p.n,
            shape_text=lambda p: f"{p.n} x {p.n}",
        ),
        KernelSpec(
            name="matmul",
            title="Tiled matmul",
            summary="C = A B for n x n x n, tiled so each tile of A and B is loaded into fast "
            "memory once per block of C; 2n^3 flops on 3n^2 elements: compute-bound.",
            make_inputs=_mm_inputs,
            reference=lambda p, t: t[0] @ t[1],
            eager=lambda p: torch.matmul,
            bytes=lambda p: 3 * p.n * p.n * p.element_size,
            flops=lambda p: 2 * p.n**3,
            shape_text=lambda p: f"{p.n} x {p.n} x {p.n}",
        ),
        KernelSpec(
            name="attention",
            title="Fused attention (forward)",
            summary="softmax(QK^T/sqrt(d))V with an online softmax over K/V blocks "
            "(FlashAttention): the seq x seq score matrix never reaches memory.",
            make_inputs=_attn_inputs,
            reference=lambda p, t: attention_reference(*t, causal=p.attn.causal),
            eager=lambda p: (
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=p.attn.causal)
            ),
            bytes=lambda p: (
                4 * p.attn.batch * p.attn.heads * p.n * p.attn.head_dim * p.element_size
            ),
            flops=_attn_flops,
            shape_text=lambda p: (
                f"B={p.attn.batch} H={p.attn.heads} N={p.n} D={p.attn.head_dim}"
                + (" causal" if p.attn.causal else "")
            ),
        ),
    ]
}

# Implementations. "eager" and "compiled" are the PyTorch baselines; "triton" runs on
# GPUs (and through the interpreter for checks); "cpp" is the custom operator;
# "torch_online" is the tiled/online algorithm written in plain PyTorch, for reading.
IMPLS: tuple[str, ...] = ("eager", "compiled", "triton", "cpp", "torch_online")
CPP_KERNELS = ("vector_add", "softmax", "layer_norm")
TORCH_ONLINE_KERNELS = ("matmul", "attention")


def triton_fn(p: Problem) -> KernelFn:
    from . import triton_kernels as tk

    match p.kernel:
        case "vector_add":
            return tk.vector_add
        case "softmax":
            return tk.softmax
        case "layer_norm":
            return lambda x, w, b: tk.layer_norm(x, w, b, LN_EPS)
        case "matmul":
            return tk.matmul
        case "attention":
            return lambda q, k, v: tk.attention(q, k, v, causal=p.attn.causal)
    raise KeyError(p.kernel)


def cpp_fn(p: Problem) -> KernelFn:
    from . import ops

    match p.kernel:
        case "vector_add":
            return ops.vector_add
        case "softmax":
            return ops.softmax
        case "layer_norm":
            return lambda x, w, b: ops.layer_norm(x, w, b, LN_EPS)
    raise KeyError(p.kernel)


def torch_online_fn(p: Problem) -> KernelFn:
    match p.kernel:
        case "matmul":
            return tiled_matmul
        case "attention":
            return lambda q, k, v: online_attention(q, k, v, causal=p.attn.causal)
    raise KeyError(p.kernel)


_compiled: dict[tuple[str, bool], KernelFn] = {}


def compiled_fn(p: Problem) -> KernelFn:
    """torch.compile of the eager baseline, one compiled function per kernel (recompiled per shape)."""
    import torch._dynamo

    for knob in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, max(256, getattr(torch._dynamo.config, knob)))
    key = (p.kernel, p.attn.causal)
    if key not in _compiled:
        eager = p.spec.eager(p)

        def call(*args: torch.Tensor) -> torch.Tensor:
            return eager(*args)

        _compiled[key] = torch.compile(call, dynamic=False, fullgraph=True)
    return _compiled[key]


def implementation(p: Problem, impl: str) -> KernelFn:
    match impl:
        case "eager":
            return p.spec.eager(p)
        case "compiled":
            return compiled_fn(p)
        case "triton":
            return triton_fn(p)
        case "cpp":
            return cpp_fn(p)
        case "torch_online":
            return torch_online_fn(p)
    raise KeyError(impl)


def impl_supported(kernel: str, impl: str) -> bool:
    if impl == "cpp":
        return kernel in CPP_KERNELS
    if impl == "torch_online":
        return kernel in TORCH_ONLINE_KERNELS
    return impl in IMPLS
