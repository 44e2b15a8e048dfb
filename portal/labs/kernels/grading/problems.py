"""The graded problems: inputs from a seed, a float64 reference, tolerances, shapes, templates.

A problem's contract with a submission: `generate_input(shape, seed)` returns the tuple
`data` that `custom_kernel(data)` receives; `reference(data)` computes the answer in
float64. The references and the cost model (bytes, flops) are the kernel suite's, so
the graded problems and the kernel lab's sweep agree on what each kernel computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

from portal.labs.kernels.engine.suite import (
    DTYPES,
    LN_EPS,
    attention_reference,
    layer_norm_reference,
    softmax_reference,
)
from portal.labs.kernels.grading.catalog import LANGUAGES, SPECS, ProblemSpec, Shape

__all__ = ["LANGUAGES", "PROBLEMS", "GradedProblem", "get_problem"]

Data = tuple[torch.Tensor, ...]


def _unset(*args: Any) -> Any:  # a dataclass default so the torch side follows the spec's
    raise NotImplementedError


def _randn(
    gen: torch.Generator, shape: Shape, dtype: torch.dtype, scale: float = 1.0
) -> torch.Tensor:
    # Drawn in float32, then rounded: every dtype sees the same distribution.
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * scale).to(dtype)


@dataclass(frozen=True)
class GradedProblem(ProblemSpec):
    """A problem's spec (catalog.py) with its torch side."""

    make: Callable[[torch.Generator, Shape, torch.dtype], Data] = _unset
    ref: Callable[[Data], torch.Tensor] = _unset
    eager: Callable[[Data], torch.Tensor] = _unset
    bytes_per: Callable[[Shape, int], int] = _unset
    flops_per: Callable[[Shape], int] = _unset

    def generate_input(self, shape: Shape, seed: int, dtype: str = "float32") -> Data:
        """Inputs on the CPU from `seed`: the same seed and shape give the same data."""
        gen = torch.Generator().manual_seed(seed)
        return self.make(gen, tuple(shape), DTYPES[dtype])

    def reference(self, data: Data) -> torch.Tensor:
        """The answer in float64 (on the inputs' device)."""
        return self.ref(tuple(t.to(torch.float64) for t in data))

    def nbytes(self, shape: Shape, dtype: str) -> int:
        return self.bytes_per(shape, torch.empty((), dtype=DTYPES[dtype]).element_size())

    def flops(self, shape: Shape) -> int:
        return self.flops_per(shape)


def _problem(name: str, **torch_side: Any) -> GradedProblem:
    spec = SPECS[name]
    return GradedProblem(
        **{f.name: getattr(spec, f.name) for f in fields(ProblemSpec)}, **torch_side
    )


def _numel(shape: Shape) -> int:
    return math.prod(shape)


def _ln_make(gen: torch.Generator, shape: Shape, dtype: torch.dtype) -> Data:
    rows, cols = shape
    x = torch.randn(rows, cols, generator=gen) * 2.0 + torch.randn(rows, 1, generator=gen)
    return x.to(dtype), _randn(gen, (cols,), dtype), _randn(gen, (cols,), dtype)


PROBLEMS: dict[str, GradedProblem] = {
    p.name: p
    for p in [
        _problem(
            "vector_add",
            make=lambda g, s, d: (_randn(g, s, d), _randn(g, s, d)),
            ref=lambda t: t[0] + t[1],
            eager=lambda t: torch.add(t[0], t[1]),
            bytes_per=lambda s, e: 3 * _numel(s) * e,
            flops_per=_numel,
        ),
        _problem(
            "softmax",
            make=lambda g, s, d: (_randn(g, s, d, scale=4.0),),
            ref=lambda t: softmax_reference(t[0]),
            eager=lambda t: torch.softmax(t[0], dim=-1),
            bytes_per=lambda s, e: 2 * _numel(s) * e,
            flops_per=lambda s: 5 * _numel(s),
        ),
        _problem(
            "layer_norm",
            make=_ln_make,
            ref=lambda t: layer_norm_reference(*t),
            eager=lambda t: F.layer_norm(t[0], (t[0].shape[-1],), t[1], t[2], LN_EPS),
            bytes_per=lambda s, e: (2 * _numel(s) + 2 * s[-1]) * e,
            flops_per=lambda s: 8 * _numel(s),
        ),
        _problem(
            "matmul",
            make=lambda g, s, d: (_randn(g, (s[0], s[1]), d), _randn(g, (s[1], s[2]), d)),
            ref=lambda t: t[0] @ t[1],
            eager=lambda t: torch.matmul(t[0], t[1]),
            bytes_per=lambda s, e: (s[0] * s[1] + s[1] * s[2] + s[0] * s[2]) * e,
            flops_per=lambda s: 2 * s[0] * s[1] * s[2],
        ),
        _problem(
            "attention",
            make=lambda g, s, d: tuple(_randn(g, s, d) for _ in range(3)),
            ref=lambda t: attention_reference(*t),
            eager=lambda t: F.scaled_dot_product_attention(t[0], t[1], t[2]),
            bytes_per=lambda s, e: 4 * _numel(s) * e,
            flops_per=lambda s: 4 * s[0] * s[1] * s[2] * s[2] * s[3],
        ),
    ]
}


def get_problem(name: str) -> GradedProblem | None:
    return PROBLEMS.get(name)
