"""End to end: the real Celery worker, Redis channel layer, daphne and a real websocket client."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import pytest
from websockets.exceptions import InvalidStatus

from portal.labs.models import Run, RunEvent, RunStatus
from portal.labs.registry import get_lab
from portal.labs.runner import resolve_device
from portal.labs.services import reap_lost_runs
from tests.conftest import child_env, start_worker
from tests.labs.conftest import (
    SMALL_BENCHMARK,
    is_final_status,
    launch,
    read_events,
    run_socket,
    wait_for,
    wait_for_status,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_launched_benchmark_streams_every_event_over_the_socket_and_succeeds(
    api, celery_worker_process, asgi_server, session_cookie
):
    run_id = launch(api, "system-benchmark", SMALL_BENCHMARK)

    with run_socket(asgi_server, run_id, session_cookie) as ws:
        events = read_events(ws, until=is_final_status)

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["data"]["status"] == "succeeded"
    kinds = {e["kind"] for e in events}
    assert {"status", "log", "progress", "metric", "table"} <= kinds
    bandwidth = [
        e for e in events if e["kind"] == "metric" and e["data"]["name"] == "copy_bandwidth_gbps"
    ]
    assert [e["data"]["step"] for e in bandwidth] == [1, 4]
    assert all(e["data"]["value"] > 0 for e in bandwidth)

    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.progress == 1.0
    assert run.result["peak_copy_bandwidth_gbps"] > 0
    assert run.result["peak_matmul_gflops"]["float32"] > 0
    assert run.device["torch_device"] == resolve_device(get_lab("system-benchmark"))
    assert run.device["hostname"] == socket.gethostname()
    assert run.device["cpu"]
    assert run.worker.startswith("test-")
    # what the socket delivered is exactly what is stored
    assert RunEvent.objects.filter(run=run).count() == run.last_seq == len(events)

    body = api.get(f"/api/runs/{run_id}").json()
    assert body["status"] == "succeeded"
    assert body["result"] == run.result


def test_cancel_from_the_api_stops_a_running_lab_within_seconds(api, celery_worker_process):
    run_id = launch(api, "pipeline-check", {"events_per_second": 20, "duration_s": 120})
    wait_for_status(run_id, {"running"})

    response = api.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 200
    asked = time.monotonic()

    run = wait_for_status(run_id, {"cancelled", "failed", "succeeded"}, timeout=15)
    assert run.status == RunStatus.CANCELLED
    assert time.monotonic() - asked < 5
    assert api.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_cancel_also_stops_a_lab_that_never_polls_cancelled(api, celery_worker_process):
    run_id = launch(
        api, "pipeline-check", {"events_per_second": 20, "duration_s": 120, "poll_cancel": False}
    )
    wait_for_status(run_id, {"running"})

    api.post(f"/api/runs/{run_id}/cancel")

    run = wait_for_status(run_id, {"cancelled", "failed", "succeeded"}, timeout=15)
    assert run.status == RunStatus.CANCELLED


def test_a_run_over_its_time_limit_fails_with_a_time_limit_error(api, celery_worker_process):
    run_id = launch(
        api, "pipeline-check", {"events_per_second": 20, "duration_s": 120}, time_limit_s=3
    )

    run = wait_for_status(run_id, {"succeeded", "failed", "cancelled", "lost"}, timeout=30)

    assert run.status == RunStatus.FAILED
    assert "Time limit" in run.error
    assert run.soft_time_limit_s < run.time_limit_s == 3
    assert (run.finished_at - run.started_at).total_seconds() < 6


def test_a_failing_lab_ends_failed_with_its_traceback(api, celery_worker_process):
    run_id = launch(
        api, "pipeline-check", {"events_per_second": 20, "duration_s": 30, "fail_at_s": 0.2}
    )

    run = wait_for_status(run_id, {"succeeded", "failed"}, timeout=30)

    assert run.status == RunStatus.FAILED
    assert "failing on purpose" in run.error
    assert "Traceback" in run.traceback
    assert api.get(f"/api/runs/{run_id}").json()["traceback"] == run.traceback


def test_a_run_whose_worker_is_killed_ends_lost(api, settings, tmp_path):
    queue = f"labs-doomed-{os.getpid()}"
    settings.PORTAL_QUEUE_ROUTES = {"cpu": queue, "gpu": queue, "any": queue}
    worker = start_worker(
        queues=queue,
        name=f"doomed-{os.getpid()}@{socket.gethostname()}",
        log_path=tmp_path / "worker.log",
        env={**child_env(), "LABS_HEARTBEAT_S": "0.2"},
        wait=False,
        start_new_session=True,
    )
    try:
        run_id = launch(api, "pipeline-check", {"events_per_second": 20, "duration_s": 300})
        wait_for_status(run_id, {"running"}, timeout=90)
        wait_for(
            lambda: RunEvent.objects.filter(run_id=run_id, kind="metric").exists(), what="metrics"
        )

        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        settings.LABS_LOST_AFTER_S = 1.0
        assert reap_lost_runs() == []  # the last heartbeat is still fresh
        time.sleep(1.3)

        assert reap_lost_runs() == [run_id]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.LOST
    assert "stopped sending heartbeats" in run.error
    assert RunEvent.objects.filter(run=run).last().data["status"] == "lost"


def test_another_user_can_neither_see_nor_cancel_nor_subscribe_to_a_run(
    api, other_client, celery_worker_process, asgi_server
):
    run_id = launch(api, "pipeline-check", {"events_per_second": 20, "duration_s": 1})

    assert other_client.get(f"/api/runs/{run_id}").status_code == 404
    assert other_client.get(f"/api/runs/{run_id}/events").status_code == 404
    assert other_client.post(f"/api/runs/{run_id}/cancel").status_code == 404
    assert other_client.get(f"/labs/runs/{run_id}/").status_code == 404
    other_cookie = f"sessionid={other_client.cookies['sessionid'].value}"
    with pytest.raises(InvalidStatus) as refused:
        with run_socket(asgi_server, run_id, other_cookie):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        with run_socket(asgi_server, run_id, "sessionid=nobody"):
            pass

    run = wait_for_status(run_id, {"succeeded", "failed", "cancelled"})
    assert run.status == RunStatus.SUCCEEDED
    assert run.cancel_requested_at is None


def test_reconnecting_with_after_loses_and_duplicates_nothing(
    api, celery_worker_process, asgi_server, session_cookie
):
    run_id = launch(api, "pipeline-check", {"events_per_second": 400, "duration_s": 3})

    with run_socket(asgi_server, run_id, session_cookie) as ws:
        first = read_events(ws, until=lambda e: e["seq"] >= 200)
    seen = first[-1]["seq"]
    time.sleep(0.5)  # events stored while nobody listens
    with run_socket(asgi_server, run_id, session_cookie, after=seen) as ws:
        second = read_events(ws, until=is_final_status)

    seqs = [e["seq"] for e in first + second]
    assert seqs == list(range(1, len(seqs) + 1))
    assert second[0]["seq"] == seen + 1
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.last_seq == seqs[-1]
    assert len([e for e in first + second if e["kind"] == "metric"]) == 1200


def test_an_idle_socket_stays_open_past_the_channel_layers_blocking_read(
    api, celery_worker_process, asgi_server, session_cookie
):
    # The channel layer waits for messages with a 5-second blocking BZPOPMIN; redis-py 8's
    # default 5-second socket timeout raced it and closed idle sockets (1011) every 5 s.
    run_id = launch(api, "pipeline-check", {"events_per_second": 50, "duration_s": 1})
    with run_socket(asgi_server, run_id, session_cookie) as ws:
        read_events(ws, until=is_final_status)
        time.sleep(12)  # two of the layer's blocking reads, nothing to deliver
        ws.send(json.dumps({"type": "ping"}))
        pong = json.loads(ws.recv(timeout=10))
    assert pong["type"] == "pong" and pong["last_seq"] == Run.objects.get(pk=run_id).last_seq
