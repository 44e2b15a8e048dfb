"""The graded problems: inputs from a seed, a float64 reference, tolerances, shapes, templates.

A problem's contract with a submission: `generate_input(shape, seed)` returns the tuple
`data` that `custom_kernel(data)` receives; `reference(data)` computes the answer in
float64. The references and the cost model (bytes, flops) are the kernel suite's, so
the graded problems and the kernel lab's sweep agree on what each kernel computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from portal.labs.kernels.engine.harness import TOLERANCES
from portal.labs.kernels.engine.suite import (
    DTYPES,
    LN_EPS,
    attention_reference,
    layer_norm_reference,
    softmax_reference,
)
from portal.labs.kernels.grading import templates

Shape = tuple[int, ...]
Data = tuple[torch.Tensor, ...]
LANGUAGES = ("pytorch", "triton", "cpp")


def _randn(
    gen: torch.Generator, shape: Shape, dtype: torch.dtype, scale: float = 1.0
) -> torch.Tensor:
    # Drawn in float32, then rounded: every dtype sees the same distribution.
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * scale).to(dtype)


@dataclass(frozen=True)
class GradedProblem:
    name: str
    title: str
    signature: str
    shape_names: tuple[str, ...]
    make: Callable[[torch.Generator, Shape, torch.dtype], Data]
    ref: Callable[[Data], torch.Tensor]
    eager: Callable[[Data], torch.Tensor]
    bytes_per: Callable[[Shape, int], int]
    flops_per: Callable[[Shape], int]
    test_shapes: tuple[Shape, ...]
    bench_shapes_cpu: tuple[Shape, ...]
    bench_shapes_gpu: tuple[Shape, ...]
    week: int = 10
    dtypes: tuple[str, ...] = field(default=("float32", "float16", "bfloat16"))

    def generate_input(self, shape: Shape, seed: int, dtype: str = "float32") -> Data:
        """Inputs on the CPU from `seed`: the same seed and shape give the same data."""
        gen = torch.Generator().manual_seed(seed)
        return self.make(gen, tuple(shape), DTYPES[dtype])

    def reference(self, data: Data) -> torch.Tensor:
        """The answer in float64 (on the inputs' device)."""
        return self.ref(tuple(t.to(torch.float64) for t in data))

    def bench_shapes(self, on_gpu: bool) -> tuple[Shape, ...]:
        return self.bench_shapes_gpu if on_gpu else self.bench_shapes_cpu

    def nbytes(self, shape: Shape, dtype: str) -> int:
        return self.bytes_per(shape, torch.empty((), dtype=DTYPES[dtype]).element_size())

    def flops(self, shape: Shape) -> int:
        return self.flops_per(shape)

    def out_shape(self, shape: Shape) -> Shape:
        if self.name == "matmul":
            return (shape[0], shape[2])
        return tuple(shape)

    @staticmethod
    def tolerance(dtype: str) -> tuple[float, float]:
        """(atol, rtol): passes where |out - ref| <= atol * rms(ref) + rtol * |ref|."""
        return TOLERANCES[DTYPES[dtype]]

    def template(self, language: str) -> str:
        return templates.template(self.name, language)


def _numel(shape: Shape) -> int:
    return math.prod(shape)


def _ln_make(gen: torch.Generator, shape: Shape, dtype: torch.dtype) -> Data:
    rows, cols = shape
    x = torch.randn(rows, cols, generator=gen) * 2.0 + torch.randn(rows, 1, generator=gen)
    return x.to(dtype), _randn(gen, (cols,), dtype), _randn(gen, (cols,), dtype)


PROBLEMS: dict[str, GradedProblem] = {
    p.name: p
    for p in [
        GradedProblem(
            name="vector_add",
            title="Vector add",
            signature="custom_kernel(data: tuple[a, b]) -> a + b; a, b: (N,)",
            shape_names=("N",),
            make=lambda g, s, d: (_randn(g, s, d), _randn(g, s, d)),
            ref=lambda t: t[0] + t[1],
            eager=lambda t: torch.add(t[0], t[1]),
            bytes_per=lambda s, e: 3 * _numel(s) * e,
            flops_per=_numel,
            test_shapes=((1,), (1000,), (65_537,)),
            bench_shapes_cpu=((1 << 18,), (1 << 20,)),
            bench_shapes_gpu=((1 << 24,), (1 << 26,)),
        ),
        GradedProblem(
            name="softmax",
            title="Fused softmax",
            signature="custom_kernel(data: tuple[x]) -> softmax(x, dim=-1); x: (rows, cols)",
            shape_names=("rows", "cols"),
            make=lambda g, s, d: (_randn(g, s, d, scale=4.0),),
            ref=lambda t: softmax_reference(t[0]),
            eager=lambda t: torch.softmax(t[0], dim=-1),
            bytes_per=lambda s, e: 2 * _numel(s) * e,
            flops_per=lambda s: 5 * _numel(s),
            test_shapes=((1, 7), (33, 100), (128, 1000)),
            bench_shapes_cpu=((256, 1024), (1024, 1024)),
            bench_shapes_gpu=((4096, 4096), (8192, 8192)),
        ),
        GradedProblem(
            name="layer_norm",
            title="Layer norm",
            signature=(
                "custom_kernel(data: tuple[x, weight, bias]) -> layer_norm over the last dim, "
                f"eps={LN_EPS}; x: (rows, cols), weight, bias: (cols,)"
            ),
            shape_names=("rows", "cols"),
            make=_ln_make,
            ref=lambda t: layer_norm_reference(*t),
            eager=lambda t: F.layer_norm(t[0], (t[0].shape[-1],), t[1], t[2], LN_EPS),
            bytes_per=lambda s, e: (2 * _numel(s) + 2 * s[-1]) * e,
            flops_per=lambda s: 8 * _numel(s),
            test_shapes=((1, 8), (33, 100), (128, 768)),
            bench_shapes_cpu=((256, 1024), (1024, 1024)),
            bench_shapes_gpu=((4096, 4096), (8192, 8192)),
        ),
        GradedProblem(
            name="matmul",
            title="Matmul",
            signature="custom_kernel(data: tuple[a, b]) -> a @ b; a: (M, K), b: (K, N)",
            shape_names=("M", "K", "N"),
            make=lambda g, s, d: (_randn(g, (s[0], s[1]), d), _randn(g, (s[1], s[2]), d)),
            ref=lambda t: t[0] @ t[1],
            eager=lambda t: torch.matmul(t[0], t[1]),
            bytes_per=lambda s, e: (s[0] * s[1] + s[1] * s[2] + s[0] * s[2]) * e,
            flops_per=lambda s: 2 * s[0] * s[1] * s[2],
            test_shapes=((1, 1, 1), (17, 33, 9), (128, 256, 64)),
            bench_shapes_cpu=((128, 128, 128), (256, 256, 256)),
            bench_shapes_gpu=((4096, 4096, 4096), (8192, 8192, 8192)),
        ),
        GradedProblem(
            name="attention",
            title="Attention forward",
            signature=(
                "custom_kernel(data: tuple[q, k, v]) -> softmax(q k^T / sqrt(D)) v, not causal; "
                "q, k, v: (B, H, S, D)"
            ),
            shape_names=("B", "H", "S", "D"),
            make=lambda g, s, d: tuple(_randn(g, s, d) for _ in range(3)),
            ref=lambda t: attention_reference(*t),
            eager=lambda t: F.scaled_dot_product_attention(t[0], t[1], t[2]),
            bytes_per=lambda s, e: 4 * _numel(s) * e,
            flops_per=lambda s: 4 * s[0] * s[1] * s[2] * s[2] * s[3],
            test_shapes=((1, 1, 16, 16), (1, 2, 100, 32), (2, 2, 128, 64)),
            bench_shapes_cpu=((1, 4, 128, 64), (1, 4, 256, 64)),
            bench_shapes_gpu=((4, 16, 2048, 64), (4, 16, 4096, 128)),
        ),
    ]
}


def get_problem(name: str) -> GradedProblem | None:
    return PROBLEMS.get(name)
