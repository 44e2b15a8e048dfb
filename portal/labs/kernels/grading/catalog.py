"""What each graded problem is, without torch: names, signatures, shapes, tolerances, templates.

The problems API and the submission form read this (a web process never imports torch);
problems.py adds the torch side (inputs from a seed, the float64 reference, the eager
baseline, the cost model) to the same specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.labs.kernels.engine.catalog import LN_EPS, TOLERANCES_BY_NAME
from portal.labs.kernels.grading import templates

Shape = tuple[int, ...]
LANGUAGES = ("pytorch", "triton", "cpp")


@dataclass(frozen=True)
class ProblemSpec:
    name: str
    title: str
    signature: str
    shape_names: tuple[str, ...]
    test_shapes: tuple[Shape, ...]
    bench_shapes_cpu: tuple[Shape, ...]
    bench_shapes_gpu: tuple[Shape, ...]
    week: int = 10
    dtypes: tuple[str, ...] = field(default=("float32", "float16", "bfloat16"))

    def bench_shapes(self, on_gpu: bool) -> tuple[Shape, ...]:
        return self.bench_shapes_gpu if on_gpu else self.bench_shapes_cpu

    def out_shape(self, shape: Shape) -> Shape:
        if self.name == "matmul":
            return (shape[0], shape[2])
        return tuple(shape)

    @staticmethod
    def tolerance(dtype: str) -> tuple[float, float]:
        """(atol, rtol): passes where |out - ref| <= atol * rms(ref) + rtol * |ref|."""
        return TOLERANCES_BY_NAME[dtype]

    def template(self, language: str) -> str:
        return templates.template(self.name, language)


SPECS: dict[str, ProblemSpec] = {
    s.name: s
    for s in [
        ProblemSpec(
            name="vector_add",
            title="Vector add",
            signature="custom_kernel(data: tuple[a, b]) -> a + b; a, b: (N,)",
            shape_names=("N",),
            test_shapes=((1,), (1000,), (65_537,)),
            bench_shapes_cpu=((1 << 18,), (1 << 20,)),
            bench_shapes_gpu=((1 << 24,), (1 << 26,)),
        ),
        ProblemSpec(
            name="softmax",
            title="Fused softmax",
            signature="custom_kernel(data: tuple[x]) -> softmax(x, dim=-1); x: (rows, cols)",
            shape_names=("rows", "cols"),
            test_shapes=((1, 7), (33, 100), (128, 1000)),
            bench_shapes_cpu=((256, 1024), (1024, 1024)),
            bench_shapes_gpu=((4096, 4096), (8192, 8192)),
        ),
        ProblemSpec(
            name="layer_norm",
            title="Layer norm",
            signature=(
                "custom_kernel(data: tuple[x, weight, bias]) -> layer_norm over the last dim, "
                f"eps={LN_EPS}; x: (rows, cols), weight, bias: (cols,)"
            ),
            shape_names=("rows", "cols"),
            test_shapes=((1, 8), (33, 100), (128, 768)),
            bench_shapes_cpu=((256, 1024), (1024, 1024)),
            bench_shapes_gpu=((4096, 4096), (8192, 8192)),
        ),
        ProblemSpec(
            name="matmul",
            title="Matmul",
            signature="custom_kernel(data: tuple[a, b]) -> a @ b; a: (M, K), b: (K, N)",
            shape_names=("M", "K", "N"),
            test_shapes=((1, 1, 1), (17, 33, 9), (128, 256, 64)),
            bench_shapes_cpu=((128, 128, 128), (256, 256, 256)),
            bench_shapes_gpu=((4096, 4096, 4096), (8192, 8192, 8192)),
        ),
        ProblemSpec(
            name="attention",
            title="Attention forward",
            signature=(
                "custom_kernel(data: tuple[q, k, v]) -> softmax(q k^T / sqrt(D)) v, not causal; "
                "q, k, v: (B, H, S, D)"
            ),
            shape_names=("B", "H", "S", "D"),
            test_shapes=((1, 1, 16, 16), (1, 2, 100, 32), (2, 2, 128, 64)),
            bench_shapes_cpu=((1, 4, 128, 64), (1, 4, 256, 64)),
            bench_shapes_gpu=((4, 16, 2048, 64), (4, 16, 4096, 128)),
        ),
    ]
}
