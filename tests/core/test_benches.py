"""The benches that run a lab without Django still find it registered (labs register in their
app's ready(); a bench that only imported the lab module found nothing after the restructure)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("bench", "lab_id"), [("llm_serving.py", "llm-serving"), ("llm_quant.py", "llm-quant")]
)
def test_a_bench_without_django_registers_the_lab_it_runs(bench, lab_id):
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(ROOT / 'bench' / bench)!r}, run_name='bench_import')\n"
        "from portal.labs.registry import get_lab\n"
        f"assert get_lab({lab_id!r}) is not None, 'not registered'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
