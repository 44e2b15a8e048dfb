"""The load-test client against a local fake server with known timing."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from portal.labs.llm.loadtest import (
    LoadSpec,
    RequestResult,
    Slo,
    percentile,
    run_load,
    summarize,
)

TTFT = 0.12
ITL = 0.03
TOKENS = 5


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *args) -> None:
        pass

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.arrivals.append(time.perf_counter())
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            if body["prompt"] == "fail":
                data = b'{"error": {"message": "boom"}}'
                self.send_response(500)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            time.sleep(TTFT)
            for i in range(body["max_tokens"]):
                if i:
                    time.sleep(ITL)
                event = {"choices": [{"index": 0, "text": f" t{i}", "finish_reason": None}]}
                self._chunk(f"data: {json.dumps(event)}\n\n")
            usage = {"prompt_tokens": 3, "completion_tokens": body["max_tokens"]}
            self._chunk(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n")
            self._chunk("data: [DONE]\n\n")
            self._chunk("")
        finally:
            with self.server.lock:
                self.server.in_flight -= 1


@pytest.fixture
def fake() -> Iterator[tuple[FakeServer, str]]:
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_percentiles_interpolate_linearly_like_numpy():
    values = [0.3, 0.1, 0.9, 0.5, 0.7, 0.2, 1.0, 0.4, 0.8, 0.6]
    for p in (0, 25, 50, 90, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 99) == 5.0


def test_summaries_count_failures_goodput_and_tpot_from_known_requests():
    results = [
        RequestResult(ok=True, ttft=0.1, e2e=0.5, itl=[0.1] * 4, output_tokens=5),
        RequestResult(ok=True, ttft=0.3, e2e=1.1, itl=[0.2] * 4, output_tokens=5),
        RequestResult(ok=True, ttft=0.2, e2e=0.2, itl=[], output_tokens=1),
        RequestResult(ok=False, error="HTTP 500: boom"),
    ]
    s = summarize(results, duration_s=2.0, slo=Slo(ttft_ms=250, tpot_ms=150))
    assert (s["completed"], s["failed"]) == (3, 1)
    assert s["request_throughput"] == 1.5
    assert s["output_throughput"] == 5.5
    # TPOT: (0.5-0.1)/4 = 100 ms and (1.1-0.3)/4 = 200 ms; the 1-token request has none
    assert s["tpot_ms"]["mean"] == pytest.approx(150)
    assert s["tpot_ms"]["p50"] == pytest.approx(150)
    # good: request 1 (100 ms TPOT) and 3 (one token, TTFT 200 ms); 2 misses TTFT and TPOT
    assert s["goodput"] == 1.0
    assert s["slo_attainment"] == 0.5
    assert s["ttft_ms"]["p50"] == pytest.approx(200)
    assert s["ttft_ms"]["p90"] == pytest.approx(280)
    assert s["e2e_ms"]["p99"] == pytest.approx(float(np.percentile([500, 1100, 200], 99)))
    assert s["itl_ms"]["p50"] == pytest.approx(150)
    assert s["errors"] == ["HTTP 500: boom"]


def test_streamed_requests_are_timed_as_the_server_paced_them(fake):
    server, url = fake
    spec = LoadSpec(num_requests=4, max_tokens=TOKENS, concurrency=2)
    results, duration = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert len(results) == 4 and all(r.ok for r in results)
    for r in results:
        assert r.output_tokens == TOKENS and r.prompt_tokens == 3
        assert TTFT <= r.ttft < TTFT + 0.25
        assert len(r.itl) == TOKENS - 1
        # One gap can shrink when the chunk before it was delayed (a busy machine); the
        # decode span as a whole cannot be shorter than the server's pacing allows.
        assert sum(r.itl) >= (TOKENS - 1) * ITL * 0.8
        assert statistics.median(r.itl) < ITL + 0.05
        assert r.e2e >= TTFT + (TOKENS - 1) * ITL
        assert r.tpot == pytest.approx((r.e2e - r.ttft) / (TOKENS - 1))
    assert server.max_in_flight == 2
    # two waves of two requests: each at least TTFT + 4 ITL
    assert duration >= 2 * (TTFT + (TOKENS - 1) * ITL)


def test_fixed_concurrency_never_exceeds_its_workers(fake):
    server, url = fake
    spec = LoadSpec(num_requests=9, max_tokens=2, concurrency=3)
    results, _ = asyncio.run(run_load(url, "m", ["a", "b"], spec))
    assert len(results) == 9
    assert server.max_in_flight == 3


def test_poisson_arrivals_follow_the_requested_rate(fake):
    server, url = fake
    spec = LoadSpec(num_requests=12, max_tokens=1, rate=40.0, seed=3)
    results, _ = asyncio.run(run_load(url, "m", ["x"], spec))
    assert all(r.ok for r in results)
    gaps = np.diff(sorted(r.start for r in results))
    # mean exponential inter-arrival 25 ms; 11 gaps: generous bounds, never all at once
    assert 0.008 < gaps.mean() < 0.08
    starts = sorted(r.start for r in results)
    assert starts[-1] > 0.05


def test_an_infinite_rate_sends_everything_at_once_under_a_concurrency_cap(fake):
    server, url = fake
    spec = LoadSpec(num_requests=6, max_tokens=1, rate=float("inf"), max_concurrency=4)
    results, _ = asyncio.run(run_load(url, "m", ["x"], spec))
    assert len(results) == 6
    assert server.max_in_flight == 4


def test_server_errors_are_counted_as_failures_with_their_message(fake):
    _, url = fake
    spec = LoadSpec(num_requests=4, max_tokens=2, concurrency=2)
    results, duration = asyncio.run(run_load(url, "m", ["ok", "fail"], spec))
    s = summarize(results, duration, Slo())
    assert (s["completed"], s["failed"]) == (2, 2)
    assert s["errors"] == ['HTTP 500: {"error": {"message": "boom"}}']


def test_an_unreachable_server_fails_every_request_without_raising():
    spec = LoadSpec(num_requests=2, max_tokens=2, concurrency=1, timeout_s=2)
    results, _ = asyncio.run(run_load("http://127.0.0.1:9", "m", ["x"], spec))
    assert [r.ok for r in results] == [False, False]
    assert all("ConnectError" in r.error for r in results)


def test_a_load_spec_needs_exactly_one_of_rate_and_concurrency():
    with pytest.raises(ValueError):
        asyncio.run(run_load("http://x", "m", ["x"], LoadSpec(num_requests=1, max_tokens=1)))
