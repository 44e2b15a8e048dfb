"""Importing a GPU bench's JSON so the page can show GPU results from a CPU-only portal."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from portal.labs.kernels.models import Sweep
from tests.labs.kernels.conftest import make_point


@pytest.mark.django_db
def test_a_bench_file_becomes_a_finished_sweep(tmp_path):
    path = tmp_path / "bench.json"
    payload = {
        "peaks": {"device": "cuda:0", "name": "NVIDIA H200", "mem_gbs": 4800.0, "tflops": {}},
        "params": {"quick": True},
        "notes": ["bench"],
        "points": [make_point(), make_point(impl="eager", n=2048)],
    }
    path.write_text(json.dumps(payload))
    call_command("loadkernelbench", str(path))
    sweep = Sweep.objects.get()
    assert sweep.source == Sweep.Source.BENCH and sweep.status == Sweep.Status.FINISHED
    assert sweep.device_name == "NVIDIA H200"
    assert [(m.impl, m.n) for m in sweep.measurements.all()] == [("triton", 4096), ("eager", 2048)]


@pytest.mark.django_db
@pytest.mark.parametrize("content", ["not json", "[]", json.dumps({"points": []})])
def test_a_bad_file_is_a_command_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError):
        call_command("loadkernelbench", str(path))
    assert not Sweep.objects.exists()
