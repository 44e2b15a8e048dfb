from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.labs.hal.models import MeasuredPeak, WorkerHost
from portal.labs.hal.services import on_worker_ready, publish_worker_telemetry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["hal:index", "hal:chips"])
def test_pages_need_a_login_and_only_answer_get(client, owner_client, name):
    url = reverse(name)
    assert client.get(url).status_code == HTTPStatus.FOUND
    assert owner_client.post(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert owner_client.get(url).status_code == HTTPStatus.OK


def test_the_devices_page_shows_this_host_and_reasons_for_missing_adapters(owner_client, no_nvml):
    body = owner_client.get(reverse("hal:index")).content.decode()
    assert "sim:0" in body and "cpu:0" in body
    assert "NVML" in body  # why there is no NVIDIA device
    assert 'hx-trigger="every 2s"' in body


def test_htmx_polling_gets_only_the_telemetry_partial(owner_client, fresh_discovery):
    response = owner_client.get(reverse("hal:index"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="telemetry"')
    assert "<html" not in body


def test_a_worker_reports_its_devices_when_it_starts_and_the_page_shows_them(
    owner_client, fresh_discovery, monkeypatch
):
    monkeypatch.setenv("PORTAL_HAL_WORKER_TELEMETRY_S", "0")  # no background loop in a test

    class Sender:
        hostname = "celery@gpu-box"

    on_worker_ready(sender=Sender())
    host = WorkerHost.objects.get(hostname="celery@gpu-box")
    assert "sim:0" in host.device_keys() and "nvidia" in host.unavailable
    publish_worker_telemetry(hostname="celery@gpu-box")
    body = owner_client.get(reverse("hal:index")).content.decode()
    assert "celery@gpu-box" in body and "badge ok" in body


def test_the_devices_api_needs_auth_and_describes_each_device(client, api, no_nvml):
    url = "/api/hal/devices"
    assert client.get(url).status_code == HTTPStatus.UNAUTHORIZED
    data = api.get(url).json()
    keys = [d["identity"]["key"] for d in data["devices"]]
    assert "cpu:0" in keys and "sim:0" in keys
    assert "nvidia" in data["unavailable"]
    assert api.post(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_device_detail_and_telemetry_or_a_404_with_the_reason(api, no_nvml):
    assert api.get("/api/hal/devices/sim:0").json()["peaks"]["source"] == "config"
    reading = api.get("/api/hal/devices/sim:0/telemetry").json()
    assert reading["reported"]["power_w"] > 0
    missing = api.get("/api/hal/devices/nvidia:0")
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert "NVML" in missing.json()["detail"]


def test_only_staff_record_measured_peaks_and_bad_figures_are_a_400(
    api, staff, client, fresh_discovery
):
    payload = {"device_key": "sim:0", "bf16_tflops": 199.0}
    assert (
        api.post("/api/hal/peaks", payload, content_type="application/json").status_code
        == HTTPStatus.FORBIDDEN
    )
    assert MeasuredPeak.objects.count() == 0
    from portal.core.services import issue_api_token

    staff_api = type(api)(
        headers={"Authorization": f"Bearer {issue_api_token(user=staff, name='t')[1]}"}
    )
    ok = staff_api.post("/api/hal/peaks", payload, content_type="application/json")
    assert ok.status_code == HTTPStatus.CREATED
    assert ok.json()["figures"]["bf16_tflops"] == 199.0
    assert staff_api.get("/api/hal/devices/sim:0").json()["peaks"]["source"] == "measured"
    empty = staff_api.post(
        "/api/hal/peaks", {"device_key": "sim:0"}, content_type="application/json"
    )
    assert empty.status_code == HTTPStatus.BAD_REQUEST
    negative = staff_api.post(
        "/api/hal/peaks",
        {"device_key": "sim:0", "fp32_tflops": -3},
        content_type="application/json",
    )
    assert negative.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    gone = staff_api.post(
        "/api/hal/peaks", {"device_key": "amd:3", "fp32_tflops": 3}, content_type="application/json"
    )
    assert gone.status_code == HTTPStatus.NOT_FOUND


def test_workers_api_lists_reported_hosts(api):
    now = timezone.now()
    WorkerHost.objects.create(
        hostname="celery@a", devices=[], unavailable={}, started_at=now, seen_at=now
    )
    # a live test worker (celery_worker_process) may have reported itself as well
    assert "celery@a" in [w["hostname"] for w in api.get("/api/hal/workers").json()]
