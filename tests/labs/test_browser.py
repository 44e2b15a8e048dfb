from __future__ import annotations

import pytest

from portal.labs.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_launching_the_system_benchmark_fills_its_chart_live(
    page, asgi_server, celery_worker_process, owner_client, owner
):
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": owner_client.cookies["sessionid"].value,
                "url": asgi_server,
            }
        ]
    )
    page.goto(asgi_server + "/labs/")
    card = page.locator("#lab-system-benchmark")
    card.locator("summary").click()
    card.locator("[name=system-benchmark-copy_sizes_mib]").fill("1, 4, 16")
    card.locator("[name=system-benchmark-matmul_sizes]").fill("64, 128")
    card.locator("[name=system-benchmark-dtypes][value=bfloat16]").uncheck()
    card.locator("[name=system-benchmark-repeats]").fill("2")
    card.locator("button[type=submit]").click()

    page.wait_for_url("**/labs/runs/*/")
    run = Run.objects.get(owner=owner)
    # the chart fills in point by point from the socket
    page.wait_for_function(
        "window.labsRun && window.labsRun.charts.points('copy_bandwidth_gbps') === 3",
        timeout=60_000,
    )
    page.wait_for_function("document.getElementById('run-status').dataset.status === 'succeeded'")
    assert page.locator(".chart-box[data-metric=matmul_gflops_float32] canvas").is_visible()
    assert "peaks" in page.locator("#run-tables").inner_text()
    assert "peak_copy_bandwidth_gbps" in page.locator("#run-result").inner_text()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED

    # a reload renders the finished run from the database, charts included
    page.reload()
    page.wait_for_function(
        "window.labsRun && window.labsRun.charts.points('copy_bandwidth_gbps') === 3"
    )
    assert page.evaluate("window.labsRun.state.received") == 0
