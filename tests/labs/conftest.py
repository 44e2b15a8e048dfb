"""Helpers for the labs tests: launching through the API, following a run's socket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from portal.labs.models import Run

SMALL_BENCHMARK = {
    "copy_sizes_mib": [1, 4],
    "matmul_sizes": [64, 128],
    "dtypes": ["float32"],
    "repeats": 2,
    "warmup": 0,
}


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_status(run_id: int, statuses: set[str], timeout: float = 60) -> Run:
    def check() -> Run | None:
        run = Run.objects.get(pk=run_id)
        return run if run.status in statuses else None

    return wait_for(check, timeout=timeout, what=f"run {run_id} to be {statuses}")


def launch(client: Client, lab_id: str, params: dict[str, Any], **extra: Any) -> int:
    response = client.post(
        f"/api/labs/{lab_id}/runs",
        {"params": params, **extra},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def session_cookie(owner_client: Client) -> str:
    return f"sessionid={owner_client.cookies['sessionid'].value}"


@contextmanager
def run_socket(
    base_url: str, run_id: int, cookie: str, after: int = 0
) -> Iterator[ClientConnection]:
    ws_url = base_url.replace("http://", "ws://") + f"/ws/runs/{run_id}/?after={after}"
    with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": base_url}) as ws:
        yield ws


def read_events(
    ws: ClientConnection,
    *,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """Events from the socket until one satisfies `until` (inclusive)."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert message["type"] == "events"
        for event in message["events"]:
            events.append(event)
            if until(event):
                return events
    raise AssertionError(f"socket gave no final event in {timeout} s ({len(events)} events)")


def is_final_status(event: dict[str, Any]) -> bool:
    return event["kind"] == "status" and event["data"]["status"] in {
        "succeeded",
        "failed",
        "cancelled",
        "lost",
    }
