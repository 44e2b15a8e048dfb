"""The C++ (and, where possible, CUDA) operators as real PyTorch custom ops.

`load()` compiles csrc/ with `torch.utils.cpp_extension.load` into a build
directory under the portal's data dir (so the minute-long first build happens
once per machine and source version), loads the shared library, which defines
the `portal_kernels::*` schemas and their CPU/CUDA kernels with the dispatcher,
and registers a fake (meta) implementation for each op in Python so that
`torch.compile(fullgraph=True)` can trace through them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

CSRC = Path(__file__).resolve().parent / "csrc"
NAMESPACE = "portal_kernels"
OP_NAMES = ("vector_add", "softmax", "layer_norm")

_lock = threading.Lock()
_loaded: LoadedOps | None = None


@dataclass(frozen=True)
class LoadedOps:
    library: Path
    cuda: bool
    build_dir: Path

    @property
    def ops(self) -> object:
        return getattr(torch.ops, NAMESPACE)


def default_data_dir() -> Path:
    """PORTAL_DATA_DIR as the settings read it, else <repo>/.data."""
    raw = os.environ.get("PORTAL_DATA_DIR")
    if raw:
        return Path(raw)
    return Path(__file__).resolve().parents[4] / ".data"


def cuda_build_possible() -> bool:
    return (
        torch.cuda.is_available()
        and torch.version.cuda is not None
        and (shutil.which("nvcc") is not None or os.environ.get("CUDA_HOME") is not None)
    )


def _sources(cuda: bool) -> list[Path]:
    sources = [CSRC / "portal_kernels.cpp"]
    if cuda:
        sources.append(CSRC / "portal_kernels_cuda.cu")
    return sources


def _build_name(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    digest.update(torch.__version__.encode())
    for src in sources:
        digest.update(src.name.encode())
        digest.update(src.read_bytes())
    return f"{NAMESPACE}_{digest.hexdigest()[:12]}"


def load(
    *, data_dir: Path | None = None, cuda: bool | None = None, verbose: bool = False
) -> LoadedOps:
    """Build (once) and load the operators; safe to call repeatedly and from threads.

    cuda=None builds the CUDA kernels when nvcc and a CUDA PyTorch with a GPU exist.
    A process loads one build only: the op schemas can be defined once.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        from torch.utils import cpp_extension

        use_cuda = cuda_build_possible() if cuda is None else cuda
        sources = _sources(use_cuda)
        name = _build_name(sources)
        build_dir = (data_dir or default_data_dir()) / "torch_extensions" / name
        build_dir.mkdir(parents=True, exist_ok=True)
        if use_cuda and "TORCH_CUDA_ARCH_LIST" not in os.environ:
            major, minor = torch.cuda.get_device_capability()
            # Build real machine code for this GPU (sm_90a on Hopper) rather than PTX only.
            suffix = "a" if major >= 9 else ""
            os.environ["TORCH_CUDA_ARCH_LIST"] = f"{major}.{minor}{suffix}"
        library = cpp_extension.load(
            name=name,
            sources=[str(s) for s in sources],
            build_directory=str(build_dir),
            extra_cflags=["-O3"],
            extra_cuda_cflags=["-O3", "--use_fast_math"] if use_cuda else None,
            is_python_module=False,
            verbose=verbose,
        )
        _register_fakes()
        _loaded = LoadedOps(library=Path(str(library)), cuda=use_cuda, build_dir=build_dir)
        return _loaded


def _register_fakes() -> None:
    # Fake implementations describe outputs (shape, dtype, device, strides)
    # without computing them: what FakeTensor tracing in torch.compile needs.
    @torch.library.register_fake(f"{NAMESPACE}::vector_add")
    def _vector_add_fake(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        torch._check(a.shape == b.shape, lambda: "vector_add: shapes differ")
        return torch.empty_like(a, memory_format=torch.contiguous_format)

    @torch.library.register_fake(f"{NAMESPACE}::softmax")
    def _softmax_fake(x: torch.Tensor) -> torch.Tensor:
        torch._check(x.dim() == 2, lambda: "softmax: a 2-D tensor expected")
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    @torch.library.register_fake(f"{NAMESPACE}::layer_norm")
    def _layer_norm_fake(
        x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
    ) -> torch.Tensor:
        torch._check(x.dim() == 2, lambda: "layer_norm: a 2-D tensor expected")
        return torch.empty_like(x, memory_format=torch.contiguous_format)


def vector_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.ops.portal_kernels.vector_add(a, b)


def softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.ops.portal_kernels.softmax(x)


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    return torch.ops.portal_kernels.layer_norm(x, weight, bias, eps)
