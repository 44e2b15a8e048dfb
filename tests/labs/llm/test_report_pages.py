"""The report pages of llm-quant and llm-serving runs, on Run rows holding real lab results."""

from __future__ import annotations

import copy
import json
import re
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import timezone, translation

from portal.labs.llm import report
from portal.labs.llm.pages import quant_report, serving_report
from portal.labs.llm.results import QuantResult, ServingResult
from portal.labs.models import Run, RunArtifact, RunStatus

pytestmark = pytest.mark.django_db

STEMS = {"llm-quant": "llm-quant-report", "llm-serving": "llm-serving-report"}


def store_run(owner, lab_id: str, ctx, *, status: str = RunStatus.SUCCEEDED) -> Run:
    """A finished run as the worker leaves it: result, and the two report artifacts on disk."""
    result = ctx.final
    run = Run.objects.create(
        owner=owner,
        lab_id=lab_id,
        params=result["params"],
        status=status,
        queue="cpu",
        time_limit_s=1800,
        soft_time_limit_s=1700,
        result=result,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    markdown = (report.quant_markdown if lab_id == "llm-quant" else report.serving_markdown)(result)
    files = {
        f"{STEMS[lab_id]}.md": markdown.encode(),
        f"{STEMS[lab_id]}.json": json.dumps(result, indent=2, ensure_ascii=False).encode(),
    }
    # the lab made exactly these artifacts
    assert {a["name"] for a in ctx.of_kind("artifact")} == set(files)
    run.artifact_dir().mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = run.artifact_dir() / name
        path.write_bytes(data)
        RunArtifact.objects.create(run=run, name=name, path=str(path), size=len(data))
    return run


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def quant_run_row(owner, quant_inline) -> Run:
    return store_run(owner, "llm-quant", quant_inline)


@pytest.fixture
def serving_run_row(owner, serving_inline) -> Run:
    return store_run(owner, "llm-serving", serving_inline)


def url(run: Run) -> str:
    return f"/labs/llm/runs/{run.pk}/report/"


def chart_data(html: str) -> dict:
    match = re.search(
        r'<script id="llm-report-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def test_the_quant_report_shows_every_variant_with_memory_quality_and_speed(
    owner_client: Client, quant_run_row: Run
):
    response = owner_client.get(url(quant_run_row))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    result = quant_run_row.result
    table = html[
        html.index('id="variants-table"') : html.index(
            "</table>", html.index('id="variants-table"')
        )
    ]
    for v in result["variants"]:
        assert f'data-variant="{v["variant"]}"' in table
        assert v["label"] in table
        assert f"{v['linear_weight_mib']:.2f}" in table
        assert f"{v['perplexity']:.2f}" in table
        assert f"{v['peak_mib']:.1f}" in table
    nf4 = next(v for v in result["variants"] if v["variant"] == "bnb-nf4")
    assert f"{(1 - nf4['linear_ratio']) * 100:.1f}%" in table  # memory saved
    assert f"{nf4['kl']:.4f}" in table
    b1 = next(p for p in nf4["latency"] if p["batch"] == 1)
    assert f"{b1['ttft_ms']:.1f}" in table and f"{b1['tpot_ms']:.1f}" in table
    # the skipped GPTQ variant says why
    assert "GPTQ needs a CUDA worker" in html
    # the crossover table has one row per quantized variant, with the lab's verdict
    crossovers = html[html.index('id="crossover-table"') :]
    for c in result["crossovers"]:
        assert c["verdict"] in crossovers
    # generations side by side: the prompt, and one column per variant
    [gen] = result["generations"]
    generations = html[html.index('id="generations-table"') :]
    assert gen["prompt"] in generations
    assert all(label in generations for label in gen["answers"])


def test_the_quant_report_links_both_downloads_and_they_serve_the_report(
    owner_client: Client, quant_run_row: Run
):
    html = owner_client.get(url(quant_run_row)).content.decode()
    md_link = f"/labs/runs/{quant_run_row.pk}/artifacts/llm-quant-report.md"
    json_link = f"/labs/runs/{quant_run_row.pk}/artifacts/llm-quant-report.json"
    assert f'href="{md_link}"' in html and f'href="{json_link}"' in html
    markdown = b"".join(owner_client.get(md_link).streaming_content).decode()
    assert markdown.startswith("# Quantization benchmark") and "## Crossover" in markdown
    exported = json.loads(b"".join(owner_client.get(json_link).streaming_content))
    assert exported == quant_run_row.result


def test_the_quant_charts_carry_memory_vs_quality_and_throughput_per_variant(
    owner_client: Client, quant_run_row: Run
):
    data = chart_data(owner_client.get(url(quant_run_row)).content.decode())
    result = quant_run_row.result
    assert data["kind"] == "llm-quant"
    points = {p["variant"]: p for p in data["memory_quality"]}
    assert set(points) == {"bf16", "bnb-int8", "bnb-nf4"}
    assert points["bf16"]["baseline"] and points["bf16"]["x"] == pytest.approx(0)
    assert points["bnb-nf4"]["x"] > points["bnb-int8"]["x"] > 45  # % of Linear memory saved
    assert points["bnb-nf4"]["y"] == pytest.approx(
        next(v["kl"] for v in result["variants"] if v["variant"] == "bnb-nf4")
    )
    [block] = data["throughput"]
    assert block["prompt_len"] == 16
    assert [s["label"] for s in block["series"]] == [v["label"] for v in result["variants"]]
    for series in block["series"]:
        assert [p[0] for p in series["points"]] == [1, 2]
    crossed = [c for c in result["crossovers"] if c["crossover"]]
    assert len(block["crossovers"]) == len(crossed)
    for mark, c in zip(block["crossovers"], crossed, strict=True):
        assert mark["batch"] == c["crossover"]["batch"] and 1 <= mark["batch"] <= 2


def test_the_crossover_mark_sits_on_the_baseline_line_where_the_ratio_crosses_one(quant_inline):
    """Known speeds: NF4 twice as fast as the baseline at batch 1, half as fast at batch 4."""
    result = copy.deepcopy(quant_inline.final)
    speeds = {"bf16": {1: 10.0, 2: 20.0, 4: 40.0}, "bnb-nf4": {1: 20.0, 2: 20.0, 4: 20.0}}
    variants = [v for v in result["variants"] if v["variant"] in speeds]
    for v in variants:
        v["latency"] = [
            {
                "batch": b,
                "prompt_len": 16,
                "ttft_ms": 5.0,
                "tpot_ms": 1000 * b / s,
                "tokens_per_s": s,
                "decode_tokens_per_s": s,
            }
            for b, s in speeds[v["variant"]].items()
        ]
    result["variants"] = variants
    result["crossovers"] = report.quant_crossovers(variants, "bf16")
    [block] = quant_report(QuantResult.model_validate(result))["charts"]["throughput"]
    [mark] = block["crossovers"]
    # the ratio is 1.0 at batch 2 exactly; the baseline does 20 tok/s there
    assert mark["batch"] == pytest.approx(2.0) and mark["y"] == pytest.approx(20.0)
    assert mark["label"] == "bitsandbytes NF4"


def test_the_serving_report_has_the_latency_table_goodput_and_curves(
    owner_client: Client, serving_run_row: Run
):
    response = owner_client.get(url(serving_run_row))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    points = serving_run_row.result["points"]
    table = html[html.index('id="serving-table"') : html.index('id="goodput-table"')]
    assert table.count('data-server="transformers"') == 2
    assert table.count('data-server="transformers-cb"') == 2
    assert table.count('data-dtype="fp32"') == len(points) == 4
    for p in points:
        assert f"{p['output_throughput']:.1f}" in table
        assert f"{p['ttft_ms']['p50']:.1f}" in table and f"{p['e2e_ms']['p99']:.1f}" in table
        assert f"{p['itl_ms']['p99']:.1f}" in table and f"{p['tpot_ms']['p50']:.1f}" in table
    goodput = html[html.index('id="goodput"') :]
    for p in points:
        assert f"{p['goodput']:.2f}" in goodput
    # the SLOs the goodput is measured against
    assert "TTFT ≤ 2000 ms" in goodput and "TPOT ≤ 250 ms" in goodput
    assert "VLLM_PYTHON" in html  # vLLM was skipped, with the reason
    assert f'href="/labs/runs/{serving_run_row.pk}/artifacts/llm-serving-report.md"' in html
    data = chart_data(html)
    assert data["kind"] == "llm-serving" and data["levels"] == ["1", "2"]
    assert [s["server"] for s in data["servers"]] == [
        "transformers-cb · fp32",
        "transformers · fp32",
    ]
    for series in data["servers"]:
        mine = [p for p in points if f"{p['server']} · {p['dtype']}" == series["server"]]
        assert series["output_tok_s"] == pytest.approx([p["output_throughput"] for p in mine])
        assert series["latency"]["e2e_p99"] == pytest.approx([p["e2e_ms"]["p99"] for p in mine])
        assert [c["level"] for c in series["curve"]] == ["1", "2"]


def test_the_serving_report_says_what_each_ratio_measures_and_marks_the_batching_crossover(
    owner_client: Client, serving_run_row: Run
):
    result = serving_run_row.result
    html = owner_client.get(url(serving_run_row)).content.decode()
    ratios = html[html.index('id="serving-ratios"') : html.index('id="serving-table"')]
    # only the pair that was measured (vLLM was skipped), with its sentence in the page's language
    assert ratios.count('<li data-kind="batching">') == 1 and 'data-kind="engine"' not in ratios
    with translation.override("zh-hans"):
        sentence = translation.gettext(report.RATIO_MEANINGS["batching"])
    assert sentence != report.RATIO_MEANINGS["batching"] and sentence in ratios
    for c in result["comparisons"]:
        assert f"{c['ratio']:.2f}×" in ratios
    [cross] = result["crossovers"]
    assert f'data-outcome="{cross["outcome"]}"' in ratios
    # the exports say the same in English
    base = f"/labs/runs/{serving_run_row.pk}/artifacts/llm-serving-report"
    markdown = b"".join(owner_client.get(f"{base}.md").streaming_content).decode()
    assert report.RATIO_MEANINGS["batching"] in markdown
    assert cross["verdict"] in markdown
    export = json.loads(b"".join(owner_client.get(f"{base}.json").streaming_content))
    assert export["ratio_meanings"] == report.RATIO_MEANINGS


def test_the_crossover_is_where_the_batching_ratio_crosses_one_and_dtype_verdicts_pick_the_faster():
    def point(server: str, dtype: str, level: int, tok_s: float) -> dict:
        e2e = {"p50": 1000.0 / tok_s}
        return {
            "server": server,
            "dtype": dtype,
            "level": level,
            "output_throughput": tok_s,
            "e2e_ms": e2e,
        }

    points = [
        point("transformers-cb", "fp32", 1, 8.0),
        point("transformers-cb", "fp32", 4, 40.0),
        point("transformers", "fp32", 1, 10.0),
        point("transformers", "fp32", 4, 10.0),
        point("transformers", "bf16", 1, 5.0),
        point("transformers", "bf16", 4, 5.0),
        point("vllm", "fp32", 1, 16.0),
        point("vllm", "fp32", 4, 80.0),
    ]
    comparisons = report.serving_comparisons(points)
    assert {(c["kind"], c["level"]): c["ratio"] for c in comparisons} == {
        ("engine", 1): 2.0,
        ("engine", 4): 2.0,
        ("batching", 1): 0.8,
        ("batching", 4): 4.0,
        ("overall", 1): 1.6,
        ("overall", 4): 8.0,
    }
    crossovers = {c["kind"]: c for c in report.serving_crossovers(comparisons, "concurrency")}
    batching = crossovers["batching"]
    assert batching["outcome"] == "overtakes" and batching["crossover"]["between"] == [1, 4]
    # log2 interpolation: 0.8 at 1 and 4.0 at 4 cross 1.0 at 2 ** (2 * 0.2 / 3.2)
    assert batching["crossover"]["batch"] == pytest.approx(2 ** (2 * 0.2 / 3.2), abs=0.01)
    assert crossovers["engine"]["outcome"] == "always"
    [verdict] = report.dtype_verdicts(points)
    assert (verdict["server"], verdict["faster"], verdict["wins"]) == ("transformers", "fp32", 2)
    assert [lv["ratio"] for lv in verdict["levels"]] == [2.0, 2.0]


@pytest.mark.parametrize("inf", [float("inf"), "inf"])
def test_an_infinite_request_rate_is_charted_as_the_last_level_and_stays_valid_json(
    serving_inline, inf
):
    result = copy.deepcopy(serving_inline.final)
    result["mode"] = "rate"
    result["points"] = [result["points"][1], result["points"][0]]
    result["points"][0]["level"] = inf  # the lab stores "inf"; older results held a float
    result["points"][1]["ttft_ms"]["p99"] = float("nan")  # every request of a level failed
    result["levels"] = [1.0, inf]
    page = serving_report(ServingResult.model_validate(result))
    assert page["charts"]["levels"] == ["1", "∞"]
    assert [r["level"] for r in page["rows"]] == ["∞", "1"]
    assert page["charts"]["servers"][0]["latency"]["ttft_p99"] == [
        None,
        pytest.approx(result["points"][0]["ttft_ms"]["p99"]),
    ]
    json.dumps(page, allow_nan=False)


def test_the_run_page_links_the_report_of_a_finished_llm_run_only(
    owner_client: Client, owner, quant_run_row: Run
):
    html = owner_client.get(f"/labs/runs/{quant_run_row.pk}/").content.decode()
    assert f'href="{url(quant_run_row)}"' in html
    running = Run.objects.create(
        owner=owner,
        lab_id="llm-quant",
        params={},
        status=RunStatus.RUNNING,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )
    assert "run-report-link" not in owner_client.get(f"/labs/runs/{running.pk}/").content.decode()
    # a running run's report page says the report comes at the end
    page = owner_client.get(url(running))
    assert page.status_code == HTTPStatus.OK and 'id="report-pending"' in page.content.decode()
    other_lab = Run.objects.create(
        owner=owner,
        lab_id="system-benchmark",
        params={},
        status=RunStatus.SUCCEEDED,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        result={"ok": True},
    )
    assert "run-report-link" not in owner_client.get(f"/labs/runs/{other_lab.pk}/").content.decode()
    assert owner_client.get(url(other_lab)).status_code == HTTPStatus.NOT_FOUND


def test_reports_are_for_the_owner_and_staff_only(
    client: Client, other_client: Client, staff, quant_run_row: Run
):
    anonymous = client.get(url(quant_run_row))
    assert anonymous.status_code == HTTPStatus.FOUND and "/login" in anonymous["Location"]
    assert other_client.get(url(quant_run_row)).status_code == HTTPStatus.NOT_FOUND
    client.force_login(staff)
    assert client.get(url(quant_run_row)).status_code == HTTPStatus.OK
    assert client.get(f"/labs/llm/runs/{quant_run_row.pk + 1000}/report/").status_code == 404


def test_the_report_only_answers_get(owner_client: Client, quant_run_row: Run):
    assert owner_client.post(url(quant_run_row)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
