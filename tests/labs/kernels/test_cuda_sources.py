"""The C++/CUDA operator sources compile with nvcc here, though no GPU runs them here.

A GPU worker builds them with `torch.utils.cpp_extension.load` on first use; a syntax or
API error would surface only there. This compiles both sources to objects (-c, no link)
for Hopper machine code (sm_90) and for portable PTX (compute_80, which the driver
JIT-compiles for any newer GPU), with torch's own include paths and nvcc flags.

nvcc takes over a minute on two cores, so the objects are kept, like ccache does, under
~/.cache/aicp/nvcc, keyed by every input: the sources (every file of csrc), the command line,
nvcc's version and torch's (its headers). Any change compiles again; PORTAL_NVCC_CACHE=0
always compiles.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
from torch.utils import cpp_extension

from portal.labs.kernels.engine.ops import CSRC

NVCC = shutil.which("nvcc") or (
    "/usr/local/bin/nvcc" if Path("/usr/local/bin/nvcc").exists() else None
)

pytestmark = [
    pytest.mark.slow,  # over a minute of nvcc on two busy cores, unless kept (below)
    pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not installed here"),
]

# CUDA builds of torch ship this generated header; the CPU wheel's include tree lacks it
# (its content is fixed: shared-library build of c10_cuda).
CMAKE_MACROS = "#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n"


def nvcc_command(source: Path, out: Path, shim: Path) -> list[str]:
    includes = [*cpp_extension.include_paths(), str(shim), sysconfig.get_paths()["include"]]
    abi = int(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True))
    return [
        str(NVCC), "-c", str(source), "-o", str(out),
        *(f"-I{path}" for path in includes),
        "-std=c++20", "-O3", "--use_fast_math", "-Xcompiler", "-fPIC",
        *cpp_extension.COMMON_NVCC_FLAGS,
        "-gencode", "arch=compute_90,code=sm_90",  # Hopper machine code (H100/H200)
        "-gencode", "arch=compute_80,code=compute_80",  # PTX: any GPU from Ampere on
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        "-DTORCH_EXTENSION_NAME=portal_kernels", "-DTORCH_API_INCLUDE_EXTENSION_H",
        "-diag-suppress", "3306",  # torch's headers: "default bit-field initializer is C++20"
    ]  # fmt: skip


def test_the_cuda_kernels_and_the_cpp_op_compile_for_sm90_and_portable_ptx(tmp_path):
    shim = tmp_path / "include"
    (shim / "c10/cuda/impl").mkdir(parents=True)
    (shim / "c10/cuda/impl/cuda_cmake_macros.h").write_text(CMAKE_MACROS)
    sources = [CSRC / "portal_kernels_cuda.cu", CSRC / "portal_kernels.cpp"]
    cache = _cache_dir()
    if cache is not None and all((cache / f"{src.name}.o").exists() for src in sources):
        for src in sources:  # built from these exact inputs before
            shutil.copyfile(cache / f"{src.name}.o", tmp_path / f"{src.name}.o")
    else:
        _compile(sources, tmp_path, shim)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            for src in sources:  # whole files only: copied aside, then renamed
                partial = cache / f"{src.name}.o.{os.getpid()}"
                shutil.copyfile(tmp_path / f"{src.name}.o", partial)
                partial.replace(cache / f"{src.name}.o")

    cuda_object = (tmp_path / "portal_kernels_cuda.cu.o").read_bytes()
    # The fat binary holds the sm_90 cubin (ptxas ran: registers, shared memory and the
    # Hopper ISA checked) beside the compute_80 PTX.
    assert b".nv_fatbin" in cuda_object
    assert b"-arch sm_90" in cuda_object
    assert (tmp_path / "portal_kernels.cpp.o").stat().st_size > 0


def _compile(sources: list[Path], out: Path, shim: Path) -> None:
    # Both at once: each nvcc is one process, and two cores halve the wait.
    jobs = {
        src: subprocess.Popen(
            nvcc_command(src, out / f"{src.name}.o", shim),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for src in sources
    }
    for src, job in jobs.items():
        output, _ = job.communicate(timeout=600)
        assert job.returncode == 0, f"nvcc failed on {src.name}:\n{output[-4000:]}"


def _cache_dir() -> Path | None:
    """Where objects built from exactly these inputs are kept; None: always compile."""
    if os.environ.get("PORTAL_NVCC_CACHE", "1") == "0":
        return None
    key = hashlib.sha256()
    for path in sorted(p for p in CSRC.rglob("*") if p.is_file()):
        key.update(path.name.encode() + b"\0" + path.read_bytes())
    for src in sorted(CSRC.glob("*.c*")):
        # where the checkout and its virtualenv lie is no input: CI clones elsewhere
        command = " ".join(nvcc_command(src, Path("OUT"), Path("SHIM")))
        command = command.replace(str(CSRC), "<csrc>").replace(sys.prefix, "<venv>")
        key.update(command.replace(sysconfig.get_paths()["include"], "<python>").encode())
    version = subprocess.run([str(NVCC), "--version"], capture_output=True, text=True, check=True)
    key.update(version.stdout.encode() + torch.__version__.encode() + CMAKE_MACROS.encode())
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "aicp" / "nvcc" / key.hexdigest()[:32]
