"""The kernel lab through run_inline: points streamed one at a time, stored, and summed up in a final table."""

from __future__ import annotations

import pydantic
import pytest

from portal.labs.kernels.models import Measurement, Sweep
from portal.labs.registry import DeviceClass, get_lab
from portal.labs.testing import run_inline

SMALL = {
    "kernels": ["vector_add", "softmax", "layer_norm", "matmul", "attention"],
    "dtypes": ["float32", "bfloat16"],
    "sizes": [32],
    "impls": ["eager", "triton", "cpp", "torch_online"],
    "trials": 2,
    "target_ms": 5,
    "max_reps": 5,
    "attn_batch": 1,
    "attn_heads": 2,
    "attn_head_dim": 32,
}


def test_the_lab_is_registered_for_week_10_on_any_device_with_valid_defaults():
    lab = get_lab("kernels")
    assert lab is not None and lab.week == 10 and lab.device == DeviceClass.ANY
    defaults = lab.validate({})
    assert defaults.kernels == ["vector_add", "softmax", "layer_norm", "matmul", "attention"]
    assert {"kernels", "dtypes", "sizes"} <= set(lab.parameter_schema()["properties"])


@pytest.mark.parametrize(
    "bad",
    [{"sizes": [4]}, {"sizes": []}, {"dtypes": ["int8"]}, {"kernels": ["conv"]}, {"trials": 0}],
)
def test_bad_parameters_are_rejected_with_field_errors(bad):
    with pytest.raises(pydantic.ValidationError):
        get_lab("kernels").validate(bad)


@pytest.mark.django_db
def test_a_cpu_run_streams_each_point_checks_triton_in_the_interpreter_and_stores_the_sweep():
    ctx = run_inline("kernels", SMALL)
    result = ctx.final
    assert result is not None
    # 5 kernels x 2 dtypes: eager everywhere, cpp on 3, torch_online on 2, triton interpreted on 5.
    assert result["points"] == 2 * (5 + 3 + 2 + 5)
    assert result["incorrect"] == 0, [r for r in result["table"] if r["status"] != "ok"]
    assert any("GPU timings" in note and "TRITON_INTERPRET=1" in note for note in result["notes"])

    # Streamed as they came: a metric per timed point and a log line per point, before the table.
    kinds = [kind for kind, _ in ctx.events]
    assert kinds.index("table") > max(i for i, k in enumerate(kinds) if k == "metric")
    assert ctx.series("softmax cpp float32 ms")
    fractions = [d["fraction"] for d in ctx.of_kind("progress")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    (table,) = ctx.of_kind("table")
    triton_rows = [r for r in table["rows"] if r["impl"] == "triton"]
    assert len(triton_rows) == 10 and all(r["median_ms"] is None for r in triton_rows)
    cpp = [r for r in table["rows"] if r["impl"] == "cpp"]
    assert all(r["median_ms"] > 0 and r["GB/s"] > 0 for r in cpp)

    sweep = Sweep.objects.get(pk=result["sweep_id"])
    assert sweep.status == Sweep.Status.FINISHED and sweep.device == "cpu"
    assert sweep.peaks["copy_gbs"] > 0
    stored = Measurement.objects.filter(sweep=sweep)
    assert stored.count() == result["points"]
    assert list(stored.values_list("seq", flat=True)) == list(range(result["points"]))
    eager = stored.get(kernel="matmul", impl="eager", dtype="float32")
    assert eager.tflops > 0 and eager.intensity == pytest.approx(2 * 32**3 / (3 * 32 * 32 * 4))


@pytest.mark.django_db
def test_torch_compile_is_a_baseline_in_the_same_run():
    ctx = run_inline(
        "kernels",
        {
            "kernels": ["softmax"],
            "sizes": [16],
            "impls": ["compiled"],
            "target_ms": 5,
            "max_reps": 3,
        },
    )
    rows = {r["impl"]: r for r in ctx.final["table"]}
    assert set(rows) == {"eager", "compiled"}
    assert rows["compiled"]["status"] == "ok" and rows["compiled"]["vs eager"] > 0


@pytest.mark.django_db
def test_cancelling_stops_between_points_and_marks_the_sweep_failed():
    from portal.labs.context import RunCancelled

    with pytest.raises(RunCancelled):
        run_inline("kernels", {**SMALL, "dtypes": ["float32"]}, cancel_after_events=8)
    sweep = Sweep.objects.latest_first().first()
    assert sweep.status == Sweep.Status.FAILED
    assert 0 < sweep.measurements.count() < 15
