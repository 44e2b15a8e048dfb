"""The report pages in a real browser: Chart.js draws every chart from the page's data."""

from __future__ import annotations

import pytest

from tests.labs.llm.test_report_pages import store_run

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_report_pages_draw_their_charts(
    page, asgi_server, owner_client, owner, quant_inline, serving_inline, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    quant = store_run(owner, "llm-quant", quant_inline)
    serving = store_run(owner, "llm-serving", serving_inline)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": owner_client.cookies["sessionid"].value,
                "url": asgi_server,
            }
        ]
    )

    page.goto(f"{asgi_server}/labs/runs/{quant.pk}/")
    page.click("#run-report-link")
    page.wait_for_url(f"**/labs/llm/runs/{quant.pk}/report/")
    # the memory-vs-quality scatter and one throughput-vs-batch chart (one prompt length)
    page.wait_for_function("window.llmReport && window.llmReport.charts.length === 2")
    page.screenshot(path=str(tmp_path / "quant.png"), full_page=True)
    kinds = page.evaluate("window.llmReport.charts.map((c) => c.config.type)")
    assert kinds == ["scatter", "line"]
    datasets = page.evaluate("window.llmReport.charts[0].data.datasets.map((d) => d.label)")
    assert datasets == [v["label"] for v in quant.result["variants"]]
    assert page.locator("canvas[data-drawn=true]").count() == 2
    assert page.locator("#variants-table tbody tr").count() == 3

    page.goto(f"{asgi_server}/labs/llm/runs/{serving.pk}/report/")
    page.wait_for_function("window.llmReport && window.llmReport.charts.length === 3")
    labels = page.evaluate("window.llmReport.charts[0].data.labels")
    assert labels == ["1", "2"]
    assert page.locator("canvas[data-drawn=true]").count() == 3
    page.screenshot(path=str(tmp_path / "serving.png"), full_page=True)
    assert errors == []
