from __future__ import annotations

import pytest

from portal.labs.kernels import services
from portal.labs.kernels.models import Sweep


def make_point(**overrides) -> dict:
    point = {
        "kernel": "softmax", "impl": "triton", "dtype": "bfloat16", "n": 4096,
        "shape": "4096 x 4096", "device": "cuda:0", "status": "ok", "reason": "",
        "median_ms": 0.05, "spread_pct": 2.0, "gbs": 2700.0, "tflops": 1.7,
        "intensity": 0.625, "frac_roofline": 0.56, "speedup_vs_eager": 1.4, "warnings": [],
    }  # fmt: skip
    point.update(overrides)
    return point


@pytest.fixture
def gpu_sweep(db) -> Sweep:
    sweep = services.start_sweep(
        device="cuda:0",
        device_name="NVIDIA H200",
        peaks={
            "mem_gbs": 4800.0,
            "copy_gbs": 4300.0,
            "tflops": {"bfloat16": 989.0},
            "source": "table",
        },
        params={"sizes": [4096]},
        notes=[],
        source=Sweep.Source.BENCH,
    )
    services.record_point(sweep=sweep, point=make_point())
    services.record_point(
        sweep=sweep,
        point=make_point(impl="cpp", status="incorrect", reason="3 of 16 outputs are NaN/Inf",
                         median_ms=None, gbs=None, tflops=None, frac_roofline=None),
    )  # fmt: skip
    return services.finish_sweep(sweep=sweep)


def make_run(user, lab_id: str = "kernels"):
    from portal.labs.models import Run, RunStatus

    return Run.objects.create(
        owner=user,
        lab_id=lab_id,
        status=RunStatus.SUCCEEDED,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )


def make_sweep(run, *, device_name: str = "Test CPU", notes=()) -> Sweep:
    """A lab sweep measured by `run` (so owned by the run's owner), with one point."""
    sweep = services.start_sweep(
        device="cpu",
        device_name=device_name,
        peaks={},
        params={},
        notes=list(notes),
        run_id=run.pk if run else None,
    )
    services.record_point(sweep=sweep, point=make_point(device="cpu"))
    return services.finish_sweep(sweep=sweep)
