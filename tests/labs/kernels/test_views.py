"""The kernel lab page: the suite, the safeguards explained, and the latest sweep with its roofline data."""

from __future__ import annotations

import json
from http import HTTPStatus

from django.test import Client
from django.urls import reverse

from tests.labs.kernels.conftest import make_run, make_sweep


def test_anonymous_visitors_are_sent_to_log_in(db):
    response = Client().get(reverse("kernels:index"))
    assert response.status_code == HTTPStatus.FOUND
    assert "/login" in response["Location"]


def test_the_page_refuses_post(owner_client):
    assert owner_client.post(reverse("kernels:index")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_page_explains_every_safeguard_even_before_any_result(owner_client):
    page = owner_client.get(reverse("kernels:index"), headers={"Accept-Language": "en"})
    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    for key in ("fresh_inputs", "poisoned_output", "anti_caching", "cache_flush", "device_timers"):
        assert f'id="safeguard-{key}"' in html
    assert "No results yet" in html or "尚无结果" in html
    assert "roofline-chart" not in html


def test_the_latest_sweep_is_shown_with_its_chart_data_and_failures(owner_client, gpu_sweep):
    html = owner_client.get(reverse("kernels:index")).content.decode()
    assert "NVIDIA H200" in html and "roofline-chart" in html
    assert "3 of 16 outputs are NaN/Inf" in html
    start = html.index('id="kernel-chart-data"')
    payload = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert payload["mem_gbs"] == 4800.0 and payload["tflops"] == {"bfloat16": 989.0}
    # Only correct, timed points are drawn.
    assert [(p["impl"], p["tflops"]) for p in payload["points"]] == [("triton", 1.7)]


def test_picking_an_older_sweep_with_htmx_renders_only_the_results_partial(
    owner, owner_client, gpu_sweep
):
    make_sweep(make_run(owner), notes=["cpu note"])
    url = reverse("kernels:index") + f"?sweep={gpu_sweep.pk}"
    full = owner_client.get(reverse("kernels:index")).content.decode()
    assert "Test CPU" in full and "cpu note" in full  # newest first
    partial = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="kernel-results"')
    assert "NVIDIA H200" in partial and "<html" not in partial
    assert 'hx-get="?sweep=' in partial and 'href="?sweep=' in partial


def test_an_unknown_sweep_is_404(owner_client, db):
    assert owner_client.get(reverse("kernels:index") + "?sweep=999999").status_code == 404
    assert owner_client.get(reverse("kernels:index") + "?sweep=abc").status_code == 404


def test_another_users_sweeps_are_neither_listed_nor_shown(owner, other_client, gpu_sweep):
    mine = make_sweep(make_run(owner), device_name="Owner's CPU")
    html = other_client.get(reverse("kernels:index")).content.decode()
    assert "Owner's CPU" not in html and "NVIDIA H200" in html  # bench imports are shared
    url = reverse("kernels:index") + f"?sweep={mine.pk}"
    assert other_client.get(url).status_code == 404


def test_staff_see_every_sweep(owner, staff, gpu_sweep):
    from django.test import Client

    mine = make_sweep(make_run(owner), device_name="Owner's CPU")
    orphan = make_sweep(None, device_name="Run-less CPU")
    client = Client()
    client.force_login(staff)
    for sweep in (mine, orphan):
        html = client.get(reverse("kernels:index") + f"?sweep={sweep.pk}").content.decode()
        assert sweep.device_name in html
