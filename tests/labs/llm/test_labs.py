"""The two labs through portal.labs.testing.run_inline, with small parameters."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import portal.labs.llm.lab  # noqa: F401  (registers the labs; LabsConfig.ready() imports it)
from portal.labs.context import RunCancelled
from portal.labs.registry import DeviceClass, get_lab
from portal.labs.testing import run_inline
from tests.labs.llm.params import SMALL_QUANT


def test_both_labs_are_registered_for_any_device_in_their_weeks():
    quant, serving = get_lab("llm-quant"), get_lab("llm-serving")
    assert (quant.week, quant.device) == (8, DeviceClass.ANY)
    assert (serving.week, serving.device) == (12, DeviceClass.ANY)
    # the defaults are valid
    assert quant.validate({}).model == "smollm2"
    defaults = serving.validate({})
    assert defaults.servers == ["vllm", "transformers-cb", "transformers"]
    assert defaults.dtypes_for("cpu") == ["fp32", "bf16"]
    assert defaults.dtypes_for("cuda") == ["bf16", "fp16"]
    # every server gets the same requests unless vLLM is asked for a fixed length
    assert defaults.ignore_eos is False


@pytest.mark.parametrize(
    "bad",
    [
        {"variants": ["int3"]},
        {"variants": []},
        {"batch_sizes": [0]},
        {"prompt_lengths": [100000]},
        {"baseline": "int8"},
        {"model": "  "},
        {"model": "two words"},
        {"new_tokens": 1},
    ],
)
def test_quant_rejects_bad_parameters(bad):
    with pytest.raises(ValidationError):
        get_lab("llm-quant").validate(bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"levels": [0]},
        {"levels": [1.5]},
        {"mode": "rate", "levels": [-1]},
        {"servers": ["tgi"]},
        {"dtypes": ["int8"]},
        {"prompt_lengths": ["huge"]},
        {"num_requests": 0},
    ],
)
def test_serving_rejects_bad_parameters(bad):
    with pytest.raises(ValidationError):
        get_lab("llm-serving").validate(bad)


def test_an_infinite_rate_is_a_valid_serving_level():
    params = get_lab("llm-serving").validate({"mode": "rate", "levels": ["inf", 2]})
    assert params.levels == [2, float("inf")]


@pytest.fixture(scope="module")
def quant_run(quant_inline):
    return quant_inline


def test_the_quant_lab_measures_every_variant_in_its_own_process(quant_run):
    result = quant_run.final
    assert [v["variant"] for v in result["variants"]] == ["bf16", "bnb-int8", "bnb-nf4"]
    assert result["skipped"] == [{"variant": "gptq-int4", "reason": "GPTQ needs a CUDA worker"}]
    by = {v["variant"]: v for v in result["variants"]}
    assert by["bnb-int8"]["linear_ratio"] <= 0.55
    assert by["bnb-nf4"]["linear_ratio"] <= 0.35
    assert by["bf16"]["kl"] == 0.0 and 0 < by["bnb-int8"]["kl"] < by["bnb-nf4"]["kl"]
    for v in result["variants"]:
        assert v["peak_kind"] == "rss" and v["peak_mib"] > v["model_weight_mib"]
        assert [(p["prompt_len"], p["batch"]) for p in v["latency"]] == [(16, 1), (16, 2)]
    assert {c["variant"] for c in result["crossovers"]} == {"bnb-int8", "bnb-nf4"}
    [gen] = result["generations"]
    assert set(gen["answers"]) == {"bf16", "bitsandbytes LLM.int8", "bitsandbytes NF4"}
    json.dumps(result)


def test_the_quant_lab_streams_measurements_as_they_land(quant_run):
    assert quant_run.series("linear_weight_mib/bnb-nf4")
    assert len(quant_run.series("decode_tok_s/bnb-int8/p16")) == 2
    steps = [d["step"] for d in quant_run.of_kind("metric") if d["name"] == "ttft_ms/bf16/p16"]
    assert steps == [1, 2]
    tables = [d for d in quant_run.of_kind("table") if d["name"] == "variants"]
    assert [len(t["rows"]) for t in tables] == [1, 2, 3]  # grows as each variant finishes
    fractions = [d["fraction"] for d in quant_run.of_kind("progress")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    artifacts = {d["name"] for d in quant_run.of_kind("artifact")}
    assert artifacts == {"llm-quant-report.md", "llm-quant-report.json"}


def test_cancelling_the_quant_lab_stops_it_between_measurements():
    with pytest.raises(RunCancelled):
        run_inline("llm-quant", SMALL_QUANT, cancel_after_events=3)


def test_the_serving_lab_compares_transformers_with_and_without_batching_and_skips_an_absent_vllm(
    serving_inline,
):
    ctx = serving_inline
    result = ctx.final
    assert [(s["server"], s["dtype"]) for s in result["skipped"]] == [("vllm", "fp32")]
    assert "VLLM_PYTHON" in result["skipped"][0]["reason"]
    points = result["points"]
    assert [(p["server"], p["dtype"], p["level"]) for p in points] == [
        ("transformers-cb", "fp32", 1),
        ("transformers-cb", "fp32", 2),
        ("transformers", "fp32", 1),
        ("transformers", "fp32", 2),
    ]
    for p in points:
        assert (p["completed"], p["failed"]) == (4, 0), p["errors"]
        # the tokens the server produced: a random model may end early at its EOS token
        assert 4 <= p["total_output_tokens"] <= 12
        assert p["mean_output_tokens"] == p["total_output_tokens"] / 4
        assert p["stopped_early"] == 0 if p["total_output_tokens"] == 12 else p["stopped_early"] > 0
        assert p["ttft_ms"]["p50"] <= p["ttft_ms"]["p99"] <= p["e2e_ms"]["p99"]
    assert len(ctx.series("ttft_ms/transformers-cb/fp32/1")) == 4
    assert ctx.series("output_tok_s/transformers/fp32") == [
        p["output_throughput"] for p in points if p["server"] == "transformers"
    ]
    # with vLLM absent, only batching vs none can be compared: one ratio per level
    by = {(p["server"], p["level"]): p["output_throughput"] for p in points}
    assert [(c["kind"], c["level"]) for c in result["comparisons"]] == [
        ("batching", 1),
        ("batching", 2),
    ]
    for c in result["comparisons"]:
        expected = by[("transformers-cb", c["level"])] / by[("transformers", c["level"])]
        assert c["ratio"] == pytest.approx(expected)
    [cross] = result["crossovers"]
    assert (cross["kind"], cross["dtype"]) == ("batching", "fp32")
    assert cross["outcome"] in {"overtakes", "falls-behind", "always", "never"}
    assert set(result["ratio_meanings"]) == {"engine", "batching", "overall"}
    assert result["dtype_verdicts"] == []  # one dtype: nothing to compare
    assert {d["name"] for d in ctx.of_kind("artifact")} == {
        "llm-serving-report.md",
        "llm-serving-report.json",
    }


@pytest.mark.django_db
def test_an_all_at_once_rate_and_empty_percentiles_are_stored_as_json(owner, monkeypatch, tmp_path):
    """jsonb has no Infinity or NaN: the rate `inf` is stored as "inf", an empty TPOT as null."""
    from portal.labs.models import Run, RunStatus
    from portal.labs.services import launch_run

    monkeypatch.setenv("VLLM_PYTHON", str(tmp_path / "nowhere" / "python"))
    params = {
        "model": "tiny-random",
        "servers": ["transformers"],
        "dtypes": ["fp32"],
        "mode": "rate",
        "levels": ["inf"],
        "num_requests": 2,
        "max_tokens": 1,  # one token: no decode step, so no TPOT at all
        "prompt_lengths": ["short"],
    }
    run = launch_run(user=owner, lab=get_lab("llm-serving"), params=params)
    run.refresh_from_db()
    assert run.params["levels"] == ["inf"]
    assert get_lab("llm-serving").validate(run.params).levels == [float("inf")]

    ctx = run_inline("llm-serving", run.params)
    [point] = ctx.final["points"]
    assert point["level"] == "inf" and point["completed"] == 2
    assert point["tpot_ms"]["p50"] is None
    for _, data in ctx.events:
        json.dumps(data, allow_nan=False)
    json.dumps(ctx.final, allow_nan=False)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, result=ctx.final)
    assert Run.objects.get(pk=run.pk).result["points"][0]["level"] == "inf"
    # the all-at-once level is charted at x = the number of requests
    assert [
        d["step"] for d in ctx.of_kind("metric") if d["name"] == "output_tok_s/transformers/fp32"
    ] == [2.0]
